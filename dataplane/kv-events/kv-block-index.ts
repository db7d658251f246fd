/**
 * Which engine pod holds which KV blocks, built from the pods' KV events and keyed by our own chain
 * hash of the blocks' token ids (token-block-hash.ts), so it is independent of the engines' hash
 * algorithm and seed. The precise prefix scorer hashes a request the same way and asks `match`
 * how many leading blocks each pod holds.
 *
 * Per pod (a small integer endpoint id):
 *  - engine hash -> our hash, so BlockRemoved (engine hashes only) can be applied and a
 *    BlockStored's parent_block_hash resolved to the chain hash its first block continues;
 *    insertion-ordered (a Map), so the oldest stored block is the first to evict past the cap;
 *  - our hash -> how many of the pod's engine hashes map to it (two engine blocks can carry the
 *    same tokens, e.g. with different cache_salt), so a holder is dropped with the last of them;
 *  - the pod's block size, from its events (a change clears the pod).
 * Across pods, per block size: our hash -> the endpoint ids holding it.
 *
 * Choices:
 *  - A BlockStored whose parent is unknown here (we joined late, or the parent was evicted from
 *    this index) cannot be chained: it is skipped and counted (`unchained`).
 *  - Seeds: loraSeed(lora_name); base model 0. Events with only a numeric lora_id (older vLLM)
 *    get unmatchableLoraSeed(id): the router cannot map a request to that engine-local id, so such
 *    blocks never match, but stay out of the base model's chains.
 *  - Only GPU blocks are indexed (medium null or "GPU"). vLLM with CPU offloading also reports
 *    CPU-tier blocks, which are cheaper than recomputing but cost a transfer, and the same engine
 *    hash can be stored and removed per tier independently; tracking tiers would need a per-tier
 *    map. Other media are ignored and counted (`otherMedium`).
 *  - Only KV-cache group 0 (or no group) is indexed: hybrid models report a group per attention
 *    kind, and group 0 is the full-attention group that decides prefix reuse in vLLM's layout.
 *  - Memory: 245 bytes per block with 32-byte (sha256) engine hashes, 171 with int hashes
 *    (node --expose-gc, one pod filled with 262,144 blocks, heap delta / blocks; the engine-hash
 *    string key dominates), so the default cap of 262,144 blocks bounds one pod at ~64 MB;
 *    real pods hold fewer blocks (vLLM's pool is ~10^4..10^5 blocks on one GPU).
 */
import type { KvEventBatch } from './kv-event-decoder';
import { loraSeed, tokenBlockHash, unmatchableLoraSeed } from './token-block-hash';

/** Default cap of blocks remembered per pod: vLLM's block pool on a large GPU is ~10^4..10^5 blocks. */
export const DEFAULT_MAX_BLOCKS_PER_POD = 262_144;

/** Options of KvBlockIndex. */
export interface KvBlockIndexOptions {
  /** Blocks remembered per pod; the oldest stored are evicted beyond it (default 262,144). */
  maxBlocksPerPod?: number;
}

/** What one apply() did, for the subscriber's counters. */
export interface KvApplyResult {
  stored: number;
  removed: number;
  /** BlockStored events skipped because their parent is unknown here. */
  unchained: number;
  /** The pod's blocks were all dropped (AllBlocksCleared or a block-size change). */
  cleared: boolean;
}

/** Counters of the whole index (monotonic). */
export interface KvBlockIndexCounters {
  stored: number;
  removed: number;
  evicted: number;
  unchained: number;
  otherMedium: number;
  otherGroup: number;
  clears: number;
}

interface PodBlocks {
  /** 0 until the first BlockStored. */
  blockSize: number;
  byEngine: Map<string, number>;
  refs: Map<number, number>;
}

/** The cross-pod block index; all methods are synchronous. */
export class KvBlockIndex {
  /** Cap of blocks per pod. */
  readonly maxBlocksPerPod: number;
  /** Monotonic counters, for metrics and the debug dump. */
  readonly counters: KvBlockIndexCounters = { stored: 0, removed: 0, evicted: 0, unchained: 0, otherMedium: 0, otherGroup: 0, clears: 0 };
  private readonly pods = new Map<number, PodBlocks>();
  /** block size -> our hash -> endpoint ids holding the block. */
  private readonly holders = new Map<number, Map<number, number[]>>();

  /** An empty index. */
  constructor(opts: KvBlockIndexOptions = {}) {
    const cap = opts.maxBlocksPerPod ?? DEFAULT_MAX_BLOCKS_PER_POD;
    if (!Number.isInteger(cap) || cap < 1) throw new Error(`maxBlocksPerPod must be a positive integer, got ${cap}`);
    this.maxBlocksPerPod = cap;
  }

  /** Apply one decoded batch from endpoint `id`, in order. */
  apply(id: number, batch: KvEventBatch): KvApplyResult {
    const res: KvApplyResult = { stored: 0, removed: 0, unchained: 0, cleared: false };
    for (const ev of batch.events) {
      if (ev.type === 'AllBlocksCleared') {
        this.clearPod(id);
        res.cleared = true;
        continue;
      }
      if (ev.medium !== null && ev.medium !== 'GPU') {
        this.counters.otherMedium++;
        continue;
      }
      if (ev.groupIdx !== null && ev.groupIdx !== 0) {
        this.counters.otherGroup++;
        continue;
      }
      const pod = this.pod(id);
      if (ev.type === 'BlockRemoved') {
        for (const eh of ev.blockHashes) {
          if (!this.forget(id, pod, eh)) continue;
          res.removed++;
          this.counters.removed++;
        }
        continue;
      }
      if (pod.blockSize !== ev.blockSize) {
        // The pod was reconfigured (or this is its first block): old blocks are of another size.
        if (pod.blockSize !== 0) {
          this.clearPod(id);
          res.cleared = true;
        }
        pod.blockSize = ev.blockSize;
      }
      let parent: number;
      if (ev.parentBlockHash === null) parent = ev.loraName !== null ? loraSeed(ev.loraName) : ev.loraId !== null ? unmatchableLoraSeed(ev.loraId) : 0;
      else {
        const p = pod.byEngine.get(ev.parentBlockHash);
        if (p === undefined) {
          res.unchained++;
          this.counters.unchained++;
          continue;
        }
        parent = p;
      }
      const bs = ev.blockSize;
      for (let i = 0; i < ev.blockHashes.length; i++) {
        parent = tokenBlockHash(parent, ev.tokenIds, i * bs, (i + 1) * bs);
        this.remember(id, pod, ev.blockHashes[i], parent);
        res.stored++;
      }
    }
    return res;
  }

  /** Forget every block of a pod (it restarted, cleared its cache, or its stream had a gap). */
  clearPod(id: number): void {
    const pod = this.pods.get(id);
    if (!pod) return;
    this.counters.clears++;
    for (const h of pod.refs.keys()) this.unhold(pod.blockSize, h, id);
    pod.byEngine.clear();
    pod.refs.clear();
  }

  /** Forget a pod entirely (it left the endpoint set). */
  dropPod(id: number): void {
    this.clearPod(id);
    this.pods.delete(id);
  }

  /**
   * For each pod, the number of leading `hashes` (our chain hashes of a request, for block size
   * `blockSize`) it holds: runs[id] = that count. The caller zeroes `runs` (indexed by endpoint id;
   * ids beyond its length are skipped). Cost O(blocks x holders): it walks the blocks in order,
   * extends each holder whose run reached this block, and stops at the first block no pod extends.
   */
  match(blockSize: number, hashes: Float64Array, runs: Int32Array): void {
    const byHash = this.holders.get(blockSize);
    if (!byHash) return;
    for (let i = 0; i < hashes.length; i++) {
      const hs = byHash.get(hashes[i]);
      if (hs === undefined) return;
      let extended = false;
      for (let k = 0; k < hs.length; k++) {
        const p = hs[k];
        if (p < runs.length && runs[p] === i) {
          runs[p] = i + 1;
          extended = true;
        }
      }
      if (!extended) return;
    }
  }

  /** The block size pod `id` reports, 0 before its first BlockStored (or for an unknown pod). */
  blockSizeOf(id: number): number {
    return this.pods.get(id)?.blockSize ?? 0;
  }

  /** Block sizes some pod currently reports (the scorer hashes a request once per size). */
  blockSizes(): number[] {
    const out: number[] = [];
    for (const [size, byHash] of this.holders) if (byHash.size > 0) out.push(size);
    return out.sort((a, b) => a - b);
  }

  /** Blocks a pod holds (engine hashes remembered), 0 for an unknown pod. */
  podBlocks(id: number): number {
    return this.pods.get(id)?.byEngine.size ?? 0;
  }

  /** Whether pod `id` holds the block with our hash `h` (tests and debugging). */
  holds(id: number, blockSize: number, h: number): boolean {
    return this.holders.get(blockSize)?.get(h)?.includes(id) ?? false;
  }

  /** Debug dump: per pod its block size and counts, per block size the distinct blocks. */
  stats(): { pods: Array<{ id: number; blockSize: number; blocks: number; distinct: number }>; blockSizes: Record<string, number>; counters: KvBlockIndexCounters } {
    const pods = [...this.pods].map(([id, p]) => ({ id, blockSize: p.blockSize, blocks: p.byEngine.size, distinct: p.refs.size }));
    const blockSizes: Record<string, number> = {};
    for (const [size, byHash] of this.holders) blockSizes[String(size)] = byHash.size;
    return { pods, blockSizes, counters: { ...this.counters } };
  }

  private pod(id: number): PodBlocks {
    let p = this.pods.get(id);
    if (!p) {
      p = { blockSize: 0, byEngine: new Map(), refs: new Map() };
      this.pods.set(id, p);
    }
    return p;
  }

  /** Record engine hash `eh` -> our hash `h` for a pod, evicting the oldest past the cap. */
  private remember(id: number, pod: PodBlocks, eh: string, h: number): void {
    const old = pod.byEngine.get(eh);
    if (old !== undefined) {
      // Stored again (re-computed after an eviction we missed): refresh its age.
      pod.byEngine.delete(eh);
      if (old === h) {
        pod.byEngine.set(eh, h);
        return;
      }
      this.release(id, pod, old);
    }
    pod.byEngine.set(eh, h);
    this.counters.stored++;
    const refs = pod.refs.get(h) ?? 0;
    pod.refs.set(h, refs + 1);
    if (refs === 0) this.hold(pod.blockSize, h, id);
    // Bounded: one eviction per block over the cap, and this call added one block.
    while (pod.byEngine.size > this.maxBlocksPerPod) {
      const oldest = pod.byEngine.keys().next().value as string;
      this.forget(id, pod, oldest);
      this.counters.evicted++;
    }
  }

  /** Drop engine hash `eh` from a pod; false when it was not known. */
  private forget(id: number, pod: PodBlocks, eh: string): boolean {
    const h = pod.byEngine.get(eh);
    if (h === undefined) return false;
    pod.byEngine.delete(eh);
    this.release(id, pod, h);
    return true;
  }

  private release(id: number, pod: PodBlocks, h: number): void {
    const refs = (pod.refs.get(h) ?? 1) - 1;
    if (refs > 0) pod.refs.set(h, refs);
    else {
      pod.refs.delete(h);
      this.unhold(pod.blockSize, h, id);
    }
  }

  private hold(blockSize: number, h: number, id: number): void {
    let byHash = this.holders.get(blockSize);
    if (!byHash) {
      byHash = new Map();
      this.holders.set(blockSize, byHash);
    }
    const hs = byHash.get(h);
    if (hs === undefined) byHash.set(h, [id]);
    else hs.push(id);
  }

  private unhold(blockSize: number, h: number, id: number): void {
    const byHash = this.holders.get(blockSize);
    const hs = byHash?.get(h);
    if (!byHash || !hs) return;
    const i = hs.indexOf(id);
    if (i < 0) return;
    // Order of holders does not matter: swap-remove.
    hs[i] = hs[hs.length - 1];
    hs.pop();
    if (hs.length === 0) byHash.delete(h);
  }
}
