import { chainHash, KvCache, type KvAllocation, type KvStepEvents } from './kv-cache';
import { LoraManager } from './lora';
import { finishedStats, newSeq, seqResult, type Seq } from './engine-seq';
import type { EngineConfig, EngineRequest, EngineSnapshot, HeldKv, SeqEvents, SeqResult } from './engine-types';
import { EngineStats } from './metrics';
import { NATURAL_MAX_TOKENS } from './output-text';
import type { EngineProfile } from './profile';
import { SimClock } from './sim-clock';
import { tokenId } from './tokenizer';

// Re-exported so callers can import the engine and its types from one module.
export type { EngineConfig, EngineRequest, EngineSnapshot, HeldKv, PodRole, SeqEvents, SeqResult } from './engine-types';

/**
 * One simulated inference engine (one pod): a continuous-batching scheduler
 * over a paged, prefix-cached KV cache, driven by timers.
 *
 * Each scheduler step:
 *  1. every running sequence needs a KV slot for the token it decodes; when
 *     the pool is full the most recently admitted sequence is preempted (its
 *     blocks freed, it goes back to the head of the waiting queue and is
 *     recomputed later, as vLLM's recompute preemption does);
 *  2. waiting requests are admitted FIFO while there is a free sequence slot
 *     (maxNumSeqs), their uncached prompt fits the step's token budget
 *     (maxNumBatchedTokens) and the KV pool has the blocks; a request whose
 *     LoRA adapter cannot get a GPU slot is skipped, not blocking others;
 *  3. the step lasts
 *       (decoding > 0 ? decodeBaseMs + decodeMsPerSeq * decoding
 *                       + decodeMsPerContextToken * (context tokens of the decoding sequences) : 0)
 *       + sum over admitted (prefillOverheadMs + uncachedTokens * prefillMsPerToken)
 *       + loraLoadMs * adaptersLoaded
 *     simulated ms, so a prefill delays the step for every decoding sequence;
 *  4. at its end every sequence in the step emits one token (an admitted
 *     request's first token comes from its prefill step).
 * Hence TTFT = queueing + prefillOverheadMs + uncached * prefillMsPerToken
 * (+ co-scheduled work) and ITL = decodeBaseMs + decodeMsPerSeq * batch size.
 *
 * Chunked prefill is approximated: a step admits prefills until their uncached
 * tokens exceed the budget, but a prompt larger than the budget is prefilled
 * whole in one long step instead of being split across steps.
 *
 * Prefill/decode disaggregation (see pd-protocol.ts for the wire side):
 *  - a `prefill` pod stops every request after its first token;
 *  - a remotely prefilled request (EngineRequest.remotePrefill) allocates its
 *    blocks on admission, then waits kvTransferMsPerToken x (prompt tokens not
 *    cached here) in a transfer list that does not hold up the batch (NIXL
 *    reads asynchronously; vLLM keeps such requests in its waiting queue), and
 *    then joins the batch as a decoding sequence: no prefill cost, its first
 *    token comes out of one decode step;
 *  - tokens found in an external store (EngineRequest.externalCache, LMCache)
 *    count as cached, and loading them adds kvTransferMsPerToken each to the
 *    admitting step, since LMCache loads synchronously before the forward pass.
 */

/** The scheduler of one pod. */
export class Engine {
  /** KV block pool with prefix cache. */
  readonly kv: KvCache;
  /** LoRA registry and GPU slots. */
  readonly lora: LoraManager;
  /** Counters and histograms. */
  readonly stats: EngineStats;
  /** Simulated time. */
  readonly clock: SimClock;
  private readonly p: EngineProfile;
  private waiting: Seq[] = [];
  private running: Seq[] = [];
  /** Remotely prefilled sequences whose KV is on its way; they hold their blocks. */
  private transferring: Seq[] = [];
  /** Wakes an idle engine when the next transfer completes. */
  private wakeTimer: NodeJS.Timeout | null = null;
  private step: { startSim: number; durSim: number; batch: Seq[] } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private kickHandle: NodeJS.Immediate | null = null;
  /** Start time of the step a pending kick will run. */
  private kickAt = 0;
  private nextId = 1;
  private stopped = false;
  /** KV-event publisher, told where engine steps begin and end (it batches per step). */
  private kvSteps: KvStepEvents | null = null;

  /** Build an idle engine. */
  constructor(readonly cfg: EngineConfig) {
    this.p = cfg.profile;
    this.kv = new KvCache(this.p.numGpuBlocks, this.p.blockSize);
    this.lora = new LoraManager(this.p.maxLoras, cfg.loras);
    this.stats = new EngineStats(cfg.flavour, this.p.maxModelLen);
    this.clock = new SimClock(cfg.timeScale);
    this.noteLoraState();
  }

  /**
   * vLLM-style length check; returns an error message or null. `maxTokens`
   * null means the request gave no limit (the natural length is used).
   */
  checkFits(promptTokens: number, maxTokens: number | null): string | null {
    const maxLen = this.p.maxModelLen;
    const out = maxTokens ?? 1;
    if (promptTokens + out > maxLen) {
      return (
        `This model's maximum context length is ${maxLen} tokens. However, you requested ` +
        `${promptTokens + out} tokens (${promptTokens} in the messages, ${out} in the completion). ` +
        'Please reduce the length of the messages or completion.'
      );
    }
    // A sequence that can never fit in the whole KV pool would wait forever
    // (without a limit it may grow by up to the natural maximum).
    const need = promptTokens + (maxTokens ?? NATURAL_MAX_TOKENS);
    if (this.kv.blocksFor(need) > this.kv.numBlocks) {
      return `Request needs ${need} KV-cache tokens but the cache holds ${this.kv.numBlocks * this.kv.blockSize}.`;
    }
    return null;
  }

  /** Queue a request; events fire as it progresses. */
  submit(req: EngineRequest, events: SeqEvents): { id: number; abort: () => void } {
    // Requests arriving while a step is about to start join it at its start time.
    const now = this.kickHandle ? this.kickAt : this.clock.now();
    const limits = { blockSize: this.p.blockSize, maxModelLen: this.p.maxModelLen, prefillOnly: this.cfg.role === 'prefill' };
    const s = newSeq(this.nextId++, req, events, limits, Math.min(req.arrivalSim ?? now, now));
    this.waiting.push(s);
    this.kick(now);
    return { id: s.id, abort: () => this.abort(s) };
  }

  /**
   * Report prefix-cache changes to `sink` (the pod's KV-event publisher): the cache calls its
   * stored/removed/cleared, and the engine brackets each step so that one step's events form one
   * batch, as vLLM publishes them.
   */
  attachKvEvents(sink: KvStepEvents): void {
    this.kvSteps = sink;
    this.kv.events = sink;
  }

  /** Point-in-time view of the engine. */
  snapshot(): EngineSnapshot {
    return {
      pod: this.cfg.pod, namespace: this.cfg.namespace, role: this.cfg.role, group: this.cfg.group ?? null, flavour: this.cfg.flavour,
      // Sequences waiting for their KV count as waiting, as in vLLM (WAITING_FOR_REMOTE_KVS).
      modelName: this.cfg.modelName, running: this.running.length, waiting: this.waiting.length + this.transferring.length,
      maxNumSeqs: this.p.maxNumSeqs,
      batchMaxTokens: this.running.reduce((a, s) => a + s.req.promptTokens.length + s.target, 0),
      kv: {
        blockSize: this.kv.blockSize, numGpuBlocks: this.kv.numBlocks, usedBlocks: this.kv.usedBlocks(),
        cachedBlocks: this.kv.cachedBlocks(), usage: this.kv.usage(), evictions: this.kv.evictions,
      },
      loras: {
        max: this.lora.maxLoras, registered: this.lora.list().map((l) => l.name), resident: this.lora.residentNames(),
        running: this.lora.runningNames(), waiting: this.waitingLoras(), loads: this.lora.loads,
        evictions: this.lora.evictions,
      },
    };
  }

  /** Stop scheduling; pending requests are dropped without callbacks. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.kickHandle) clearImmediate(this.kickHandle);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.timer = null;
    this.kickHandle = null;
    this.wakeTimer = null;
  }

  /**
   * Schedule a step soon if none is running. setImmediate batches same-tick
   * arrivals; the step is dated `at` (the arrival that woke the engine), so
   * an idle engine starts a request with zero queueing time whatever the
   * event-loop latency.
   */
  private kick(at: number): void {
    if (this.stopped || this.step || this.kickHandle) return;
    this.kickAt = at;
    this.kickHandle = setImmediate(() => {
      this.kickHandle = null;
      this.runStep(at);
    });
  }

  private runStep(startSim: number): void {
    if (this.stopped || this.step) return;
    const p = this.p;
    this.kvSteps?.beginStep();
    this.collectTransfers(startSim);
    // 1. KV slot for each decoding sequence; preempt the newest on shortage.
    for (let i = 0; i < this.running.length; i++) {
      const s = this.running[i];
      // Bounded: every failed grow removes one running sequence.
      while (s.alloc && !this.kv.grow(s.alloc, s.tokens.length)) {
        const victim = this.running[this.running.length - 1];
        this.preempt(victim);
        if (victim === s) break;
      }
    }
    const decoding = [...this.running];

    // 2. Admit waiting requests FIFO.
    let budget = p.maxNumBatchedTokens - decoding.length;
    const admitted: Array<{ s: Seq; costMs: number }> = [];
    // Remotely prefilled sequences whose KV is here: they only decode.
    const joined: Seq[] = [];
    let loraLoads = 0;
    for (let i = 0; i < this.waiting.length && this.running.length < p.maxNumSeqs; ) {
      const s = this.waiting[i];
      if (s.req.lora && !this.lora.canAcquire(s.req.lora)) {
        i++; // vLLM skips requests whose adapter has no slot and tries the next.
        continue;
      }
      const kvReady = s.alloc !== null;
      const remote = !kvReady && s.req.remotePrefill === true && s.admitSim < 0;
      let uncached = 0;
      let loadMs = 0;
      if (!kvReady) {
        // vLLM always recomputes the last prompt token, so hits stop one token short.
        const maxCached = Math.floor((s.tokens.length - 1) / p.blockSize);
        const local = Math.min(this.kv.lookup(s.hashes), maxCached) * p.blockSize;
        const external = remote
          ? s.tokens.length
          : s.req.externalCache ? Math.min(s.req.externalCache(s.hashes), maxCached) * p.blockSize : 0;
        uncached = s.tokens.length - Math.max(local, external);
        if (admitted.length > 0 && uncached > budget) break;
        const alloc = this.kv.allocate(s.hashes, s.tokens.length, maxCached, { tokens: s.tokens, lora: s.req.lora });
        if (!alloc) break;
        s.alloc = alloc;
        this.stats.counters.prefixCacheQueries += s.tokens.length;
        this.stats.counters.prefixCacheHits += alloc.cachedTokens;
        if (s.admitSim < 0) {
          s.admitSim = startSim;
          s.cachedTokens = alloc.cachedTokens;
          this.stats.counters.promptTokens += s.req.promptTokens.length;
        }
        // Only what this pod does not hold already is moved (as NIXL and LMCache do).
        const moved = Math.max(0, external - alloc.cachedTokens);
        loadMs = moved * p.kvTransferMsPerToken;
        s.kvTransferTokens += moved;
        s.kvTransferMs += loadMs;
        if (remote && loadMs > 0) {
          this.waiting.splice(i, 1);
          s.state = 'transferring';
          s.readyAtSim = startSim + loadMs;
          this.transferring.push(s);
          continue;
        }
        if (moved > 0) s.events.onKvLoaded?.(moved);
      }
      this.waiting.splice(i, 1);
      if (s.req.lora && this.lora.acquire(s.req.lora)?.loaded) {
        loraLoads++;
        s.loraLoadMs += p.loraLoadMs;
      }
      s.state = 'running';
      this.running.push(s);
      if (kvReady || remote) {
        joined.push(s);
        budget -= 1; // it computes its last prompt token
      } else {
        admitted.push({ s, costMs: p.prefillOverheadMs + uncached * p.prefillMsPerToken + loadMs });
        budget -= uncached;
      }
    }

    // 3. Cost of the step (formula in the file header).
    const decoders = decoding.length + joined.length;
    let contextTokens = 0;
    if (p.decodeMsPerContextToken > 0) for (const s of [...decoding, ...joined]) contextTokens += s.tokens.length;
    const decodeMs = decoders > 0 ? p.decodeBaseMs + p.decodeMsPerSeq * decoders + p.decodeMsPerContextToken * contextTokens : 0;
    const prefillMs = admitted.reduce((a, x) => a + x.costMs, 0);
    const durSim = decodeMs + prefillMs + loraLoads * p.loraLoadMs;
    const batch = [...decoding, ...joined, ...admitted.map((x) => x.s)];
    if (batch.length === 0) {
      this.kvSteps?.endStep();
      if (this.transferring.length > 0) this.wakeAt(Math.min(...this.transferring.map((s) => s.readyAtSim)));
      else if (this.waiting.length > 0) this.failUnschedulable(startSim);
      return;
    }
    this.step = { startSim, durSim, batch };
    this.clock.beginStep(startSim, durSim);
    // Aimed at the wall time the step's end maps to, so timer lateness does not accumulate.
    this.timer = setTimeout(() => this.finishStep(), this.clock.wallDelayUntil(startSim + durSim));
  }

  /** Transfers complete by `nowSim` go back to the head of the queue, KV in place. */
  private collectTransfers(nowSim: number): void {
    if (this.transferring.length === 0) return;
    const ready = this.transferring.filter((s) => s.readyAtSim <= nowSim);
    if (ready.length === 0) return;
    this.transferring = this.transferring.filter((s) => s.readyAtSim > nowSim);
    for (const s of ready) {
      s.state = 'waiting';
      s.events.onKvLoaded?.(s.kvTransferTokens);
    }
    this.waiting.unshift(...ready);
  }

  /** Run a step at `atSim` (an idle engine waiting only for transfers). */
  private wakeAt(atSim: number): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.kick(atSim);
    }, this.clock.wallDelayUntil(atSim));
  }

  private finishStep(): void {
    const step = this.step;
    if (!step || this.stopped) return;
    const end = step.startSim + step.durSim;
    this.step = null;
    this.timer = null;
    this.clock.endStep(end);
    for (const s of step.batch) {
      if (s.state !== 'running' || !s.alloc) continue; // aborted during the step
      // Everything fed to the model this step now has KV; publish full blocks.
      this.kv.commit(s.alloc, s.hashes);
      this.emitToken(s, end);
    }
    this.kvSteps?.endStep();
    this.noteLoraState();
    if (this.running.length > 0 || this.waiting.length > 0 || this.transferring.length > 0) this.runStep(end);
  }

  private emitToken(s: Seq, nowSim: number): void {
    // Before the first token is appended s.hashes are the prompt's full blocks.
    if (s.firstTokenSim < 0) s.events.onPrefilled?.(s.hashes);
    const piece = s.output.pieceAt(s.generated);
    s.tokens.push(tokenId(piece));
    const bs = this.p.blockSize;
    if (s.tokens.length % bs === 0) {
      s.hashes.push(chainHash(s.hashes[s.hashes.length - 1] ?? s.hashSeed, s.tokens.slice(-bs)));
    }
    s.generated++;
    s.text.push(piece);
    this.stats.counters.generationTokens++;
    if (s.firstTokenSim < 0) {
      s.firstTokenSim = nowSim;
      this.stats.hist.ttft.observe((nowSim - s.arrivalSim) / 1000);
    } else {
      this.stats.hist.itl.observe((nowSim - s.lastTokenSim) / 1000);
    }
    s.lastTokenSim = nowSim;
    const last = s.generated >= s.target;
    s.events.onToken(piece, s.generated - 1, last);
    // onToken may have aborted the request (a dropConnection fault).
    if (last && s.state === 'running') this.finish(s, nowSim, s.finishReason);
  }

  private finish(s: Seq, nowSim: number, reason: SeqResult['finishReason'], error?: string): void {
    const held = s.req.holdKv && reason !== 'abort' && s.alloc ? this.holdKv(s.alloc, s.req.promptTokens.length) : undefined;
    this.detach(s, held !== undefined);
    this.stats.observeFinished(finishedStats(s, nowSim, reason, this.p.maxModelLen));
    if (reason === 'abort' && !error) return; // the client is gone; nobody to tell
    s.events.onFinish(seqResult(s, nowSim, reason, error, held));
  }

  /** Keep a finished sequence's blocks (a NIXL prefill's KV waiting to be pulled). */
  private holdKv(alloc: KvAllocation, promptTokens: number): HeldKv {
    let held = true;
    return {
      blockIds: alloc.blockIds.slice(0, this.kv.blocksFor(promptTokens)),
      release: () => {
        if (held) this.kv.free(alloc);
        held = false;
      },
    };
  }

  /** Client went away: drop the request wherever it is. */
  private abort(s: Seq): void {
    if (s.state === 'done') return;
    this.finish(s, this.clock.now(), 'abort');
  }

  /** Remove a sequence from the queues and release its KV blocks (unless kept) and adapter. */
  private detach(s: Seq, keepKv = false): void {
    if (s.state === 'waiting') this.waiting = this.waiting.filter((x) => x !== s);
    if (s.state === 'transferring') this.transferring = this.transferring.filter((x) => x !== s);
    if (s.state === 'running') {
      this.running = this.running.filter((x) => x !== s);
      if (s.req.lora) this.lora.release(s.req.lora);
    }
    // Waiting and transferring sequences may hold blocks too (a remote prefill's KV).
    if (s.alloc && !keepKv) this.kv.free(s.alloc);
    s.alloc = null;
    s.state = 'done';
  }

  private preempt(s: Seq): void {
    this.running = this.running.filter((x) => x !== s);
    if (s.alloc) this.kv.free(s.alloc);
    if (s.req.lora) this.lora.release(s.req.lora);
    s.alloc = null;
    s.state = 'waiting';
    s.preemptions++;
    this.waiting.unshift(s);
    this.stats.counters.preemptions++;
  }

  /** Nothing runs and the queue head cannot start: fail it rather than hang. */
  private failUnschedulable(nowSim: number): void {
    const s = this.waiting[0];
    this.finish(s, nowSim, 'abort', 'request cannot be scheduled: not enough KV cache for it');
    this.kick(nowSim);
  }

  private waitingLoras(): string[] {
    return [...new Set(this.waiting.map((s) => s.req.lora).filter((l): l is string => l !== null))];
  }

  private noteLoraState(): void {
    this.stats.noteLoraState(this.lora.runningNames(), this.waitingLoras(), this.lora.maxLoras, Date.now() / 1000);
  }
}
