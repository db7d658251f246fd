/**
 * The NIXL transfers prefill pods have produced and decode pods have not pulled yet. All pods
 * live in one process, so one registry stands in for the NIXL side channel: key = the
 * `remote_engine_id` and `remote_block_ids` a prefill answered with.
 *
 * A prefill pod keeps the prompt's KV blocks until a decode pod has pulled them, or until
 * NIXL_KV_HOLD_MS simulated ms have passed (vLLM's VLLM_NIXL_ABORT_REQUEST_TIMEOUT, 480 s by
 * default), whichever comes first. A transfer is pulled once; consumed and expired keys are
 * remembered (the last TOMBSTONES of them) so a reuse gets a precise message.
 */
import type { HeldKv } from './engine';
import type { PdPeer } from './pd-peer';

/** How long a prefill pod keeps unpulled KV, simulated ms (vLLM's default 480 s). */
export const NIXL_KV_HOLD_MS = 480_000;

/** Consumed or expired keys remembered for error messages. */
const TOMBSTONES = 4096;

/** One prefill's KV waiting for its decode pod. */
export interface NixlTransfer {
  engineId: string;
  blockIds: number[];
  /** The prefill pod that holds the KV. */
  prefill: PdPeer;
  /** The request's model name (base or adapter). */
  model: string;
  promptTokens: number;
  /** hashTokens of the prompt. */
  promptHash: number;
  /** The prefill pod's held blocks; released when pulled or expired. */
  kv: HeldKv;
}

/** Why a lookup found no live transfer. */
export interface NixlMiss {
  reason: 'unknown_transfer' | 'reused' | 'expired';
  message: string;
}

interface Held {
  t: NixlTransfer;
  timer: NodeJS.Timeout;
}

function key(engineId: string, blockIds: readonly number[]): string {
  return `${engineId}|${blockIds.join(',')}`;
}

/** Transfers by (engine id, block ids). */
export class NixlRegistry {
  /** Registered and not yet pulled. */
  private readonly live = new Map<string, Held>();
  /** Everything whose KV is still held (live, or pulled and in flight). */
  private readonly held = new Map<NixlTransfer, Held>();
  private readonly gone = new Map<string, NixlMiss>();

  /** Record a prefill's KV; it is released after NIXL_KV_HOLD_MS (simulated, prefill pod's clock). */
  register(t: NixlTransfer): void {
    const k = key(t.engineId, t.blockIds);
    const h: Held = {
      t,
      timer: setTimeout(() => {
        this.release(t);
        if (this.live.get(k) === h) {
          this.live.delete(k);
          this.bury(k, 'expired', `${describe(t)} expired: pod ${t.prefill.name} released the KV after ${NIXL_KV_HOLD_MS / 1000} s unpulled`);
        }
      }, t.prefill.engine.clock.toWallMs(NIXL_KV_HOLD_MS)),
    };
    h.timer.unref();
    const old = this.live.get(k);
    if (old) this.release(old.t); // cannot happen while blocks are held, but never leak
    this.live.set(k, h);
    this.held.set(t, h);
    this.gone.delete(k);
  }

  /** The live transfer named by these params, or why there is none. */
  find(engineId: string, blockIds: readonly number[], livePods: Iterable<PdPeer>): NixlTransfer | NixlMiss {
    const k = key(engineId, blockIds);
    const h = this.live.get(k);
    if (h) return h.t;
    const dead = this.gone.get(k);
    if (dead) return dead;
    let owner: PdPeer | undefined;
    for (const p of livePods) if (p.kvEngineId === engineId) owner = p;
    return {
      reason: 'unknown_transfer',
      message:
        `kv_transfer_params name engine ${engineId} blocks [${blockIds.join(',')}] which no prefill produced` +
        (owner ? ` (pod ${owner.name} has no such transfer)` : ' (no running pod has that engine id)'),
    };
  }

  /** Take a transfer for `decodePod`; its KV stays held until `release` (or the hold timeout). */
  consume(t: NixlTransfer, decodePod: string): void {
    const k = key(t.engineId, t.blockIds);
    this.live.delete(k);
    this.bury(k, 'reused', `${describe(t)} were already pulled by decode pod ${decodePod}: each prefill's KV can be used once`);
  }

  /** Free a pulled transfer's KV on the prefill pod. */
  release(t: NixlTransfer): void {
    const h = this.held.get(t);
    if (!h) return;
    clearTimeout(h.timer);
    t.kv.release();
    this.held.delete(t);
  }

  /** Forget every transfer a closing pod produced. */
  dropPod(pod: PdPeer): void {
    for (const [k, h] of this.live) if (h.t.prefill === pod) this.live.delete(k);
    for (const t of [...this.held.keys()]) if (t.prefill === pod) this.release(t);
  }

  /** Transfers registered and not pulled yet. */
  get size(): number {
    return this.live.size;
  }

  private bury(k: string, reason: NixlMiss['reason'], message: string): void {
    this.gone.set(k, { reason, message });
    // Map order is insertion order: drop the oldest.
    if (this.gone.size > TOMBSTONES) this.gone.delete(this.gone.keys().next().value as string);
  }
}

function describe(t: NixlTransfer): string {
  return `kv_transfer_params engine ${t.engineId} blocks [${t.blockIds.join(',')}]`;
}
