/**
 * Which endpoints recently served which prompt blocks: an approximation of each engine's prefix
 * cache, built from where requests actually went (the endpoint that served records the blocks).
 * Each endpoint keeps an LRU of at most `capacityPerEndpoint` block hashes; optionally a global cap
 * (Kthena's maxHashCacheSize) splits evenly across endpoints. Lookups walk the prompt's blocks in
 * order and count, per endpoint, how many leading blocks it holds.
 */

/** Per-endpoint LRU of block hashes, on a Map's insertion order (delete + set = move to newest). */
class EndpointBlocks {
  readonly blocks = new Map<number, true>();
}

/** The index for one hash block size. */
export class PrefixIndex {
  private readonly byEndpoint = new Map<number, EndpointBlocks>();
  /** Block hash → endpoint ids holding it. */
  private readonly holders = new Map<number, Set<number>>();
  private capacityPerEndpoint: number;
  private globalCap: number | null;

  constructor(capacityPerEndpoint: number, globalCap: number | null = null) {
    this.capacityPerEndpoint = capacityPerEndpoint;
    this.globalCap = globalCap;
  }

  /** Adjusts capacities (a config change); takes effect as endpoints record new blocks. */
  configure(capacityPerEndpoint: number, globalCap: number | null): void {
    this.capacityPerEndpoint = capacityPerEndpoint;
    this.globalCap = globalCap;
  }

  private capacity(): number {
    if (this.globalCap === null) return this.capacityPerEndpoint;
    return Math.max(1, Math.min(this.capacityPerEndpoint, Math.floor(this.globalCap / Math.max(1, this.byEndpoint.size))));
  }

  /** Records that `endpointId` served a prompt with these leading block hashes. */
  record(endpointId: number, hashes: Uint32Array): void {
    let ep = this.byEndpoint.get(endpointId);
    if (!ep) {
      ep = new EndpointBlocks();
      this.byEndpoint.set(endpointId, ep);
    }
    const cap = this.capacity();
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i]!;
      if (ep.blocks.delete(h)) {
        ep.blocks.set(h, true);
        continue;
      }
      ep.blocks.set(h, true);
      let set = this.holders.get(h);
      if (!set) {
        set = new Set();
        this.holders.set(h, set);
      }
      set.add(endpointId);
    }
    while (ep.blocks.size > cap) {
      const oldest = ep.blocks.keys().next().value as number;
      ep.blocks.delete(oldest);
      const set = this.holders.get(oldest);
      if (set) {
        set.delete(endpointId);
        if (set.size === 0) this.holders.delete(oldest);
      }
    }
  }

  /**
   * Counts, per endpoint, how many leading blocks of `hashes` it holds: `runs[id]` must be 0 on
   * entry for every id the caller will read. Walks block by block over the holders of each block
   * only (usually one or a few endpoints), so the cost is blocks × holders, not blocks × endpoints.
   * Stops at the first block that extends no endpoint's run.
   */
  match(hashes: Uint32Array, runs: Int32Array): void {
    for (let i = 0; i < hashes.length; i++) {
      const set = this.holders.get(hashes[i]!);
      if (!set) return;
      let extended = 0;
      for (const id of set) {
        // An endpoint extends its run only if it held every earlier block.
        if (id < runs.length && runs[id] === i) {
          runs[id] = i + 1;
          extended++;
        }
      }
      if (extended === 0) return;
    }
  }

  /** Forgets an endpoint (it left every snapshot). */
  drop(endpointId: number): void {
    const ep = this.byEndpoint.get(endpointId);
    if (!ep) return;
    for (const h of ep.blocks.keys()) {
      const set = this.holders.get(h);
      if (set) {
        set.delete(endpointId);
        if (set.size === 0) this.holders.delete(h);
      }
    }
    this.byEndpoint.delete(endpointId);
  }

  /** Blocks remembered per endpoint id, for the debug dump. */
  sizes(): Record<number, number> {
    return Object.fromEntries([...this.byEndpoint].map(([id, ep]) => [id, ep.blocks.size]));
  }
}
