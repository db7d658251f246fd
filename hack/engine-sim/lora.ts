/**
 * LoRA adapter bookkeeping for one pod.
 *
 * Two sets, as in vLLM:
 * - *registered* adapters are the ones the server knows (its configured
 *   `loras` plus any added with /v1/load_lora_adapter); they are listed by
 *   /v1/models and may be requested;
 * - *resident* adapters occupy one of `maxLoras` GPU slots. A request for a
 *   registered but non-resident adapter must load it first (the caller charges
 *   loraLoadMs), evicting the least recently used resident adapter that no
 *   running sequence uses. If every slot is pinned by running sequences the
 *   request cannot start yet (vLLM's scheduler skips it and tries the next one).
 */

interface Slot {
  /** Running sequences using the adapter; a slot with users is never evicted. */
  inUse: number;
  /** Logical clock of the last acquire, for LRU. */
  lastUsed: number;
}

/** Result of trying to give a new sequence access to an adapter. */
export interface LoraAcquire {
  /** True when the adapter had to be brought onto the GPU (costs loraLoadMs). */
  loaded: boolean;
  /** Adapter evicted to make room, if any. */
  evicted: string | null;
}

/** Registry + GPU-slot LRU for LoRA adapters. */
export class LoraManager {
  private readonly registered = new Map<string, string>();
  private readonly resident = new Map<string, Slot>();
  /** Adapters unregistered while in use; their slot is freed when the last user finishes. */
  private readonly pendingUnload = new Set<string>();
  private clock = 0;
  /** Adapter loads onto the GPU so far. */
  loads = 0;
  /** Resident adapters evicted so far. */
  evictions = 0;

  /** `preloaded` adapters are registered; the first `maxLoras` of them start resident. */
  constructor(
    readonly maxLoras: number,
    preloaded: readonly string[] = [],
  ) {
    for (const name of preloaded) {
      this.registered.set(name, `/sim/loras/${name}`);
      if (this.resident.size < maxLoras) this.resident.set(name, { inUse: 0, lastUsed: ++this.clock });
    }
  }

  /** True if requests may name this adapter. */
  isRegistered(name: string): boolean {
    return this.registered.has(name);
  }

  /** True if the adapter occupies a GPU slot. */
  isResident(name: string): boolean {
    return this.resident.has(name);
  }

  /** Registered adapters with their paths, in registration order. */
  list(): Array<{ name: string; path: string }> {
    return [...this.registered].map(([name, path]) => ({ name, path }));
  }

  /** Resident adapters, least recently used first. */
  residentNames(): string[] {
    return [...this.resident].sort((a, b) => a[1].lastUsed - b[1].lastUsed).map(([n]) => n);
  }

  /** Resident adapters with at least one running sequence. */
  runningNames(): string[] {
    return [...this.resident].filter(([, s]) => s.inUse > 0).map(([n]) => n);
  }

  /** Register an adapter (vLLM load_lora_adapter). False if the name is taken. */
  register(name: string, path: string): boolean {
    if (this.registered.has(name)) return false;
    this.registered.set(name, path);
    // Re-registered before its last user finished: keep the resident copy.
    this.pendingUnload.delete(name);
    return true;
  }

  /**
   * Make a registered adapter resident without a sequence using it (what
   * load_lora_adapter does on a real server). Returns null if every slot is
   * in use, leaving it registered but not resident.
   */
  warm(name: string): LoraAcquire | null {
    const r = this.acquire(name);
    if (r) this.release(name);
    return r;
  }

  /** Unregister an adapter (vLLM unload_lora_adapter). False if unknown. */
  unregister(name: string): boolean {
    if (!this.registered.delete(name)) return false;
    const slot = this.resident.get(name);
    if (slot && slot.inUse === 0) this.resident.delete(name);
    else if (slot) this.pendingUnload.add(name);
    return true;
  }

  /**
   * Reserve the adapter for one running sequence, loading it if needed.
   * Returns null when no slot can be freed (all pinned by running sequences).
   */
  acquire(name: string): LoraAcquire | null {
    const slot = this.resident.get(name);
    if (slot) {
      slot.inUse++;
      slot.lastUsed = ++this.clock;
      return { loaded: false, evicted: null };
    }
    let evicted: string | null = null;
    if (this.resident.size >= this.maxLoras) {
      evicted = this.lruIdle();
      if (evicted === null) return null;
      this.resident.delete(evicted);
      this.evictions++;
    }
    this.resident.set(name, { inUse: 1, lastUsed: ++this.clock });
    this.loads++;
    return { loaded: true, evicted };
  }

  /** True if acquire(name) would succeed right now. */
  canAcquire(name: string): boolean {
    return this.resident.has(name) || this.resident.size < this.maxLoras || this.lruIdle() !== null;
  }

  /** Drop one sequence's reservation. */
  release(name: string): void {
    const slot = this.resident.get(name);
    if (!slot) return;
    slot.inUse = Math.max(0, slot.inUse - 1);
    if (slot.inUse === 0 && this.pendingUnload.delete(name)) this.resident.delete(name);
  }

  /** Least recently used resident adapter with no running sequence, or null. */
  private lruIdle(): string | null {
    let best: string | null = null;
    let bestUsed = Infinity;
    for (const [name, s] of this.resident) {
      if (s.inUse === 0 && s.lastUsed < bestUsed) {
        best = name;
        bestUsed = s.lastUsed;
      }
    }
    return best;
  }
}
