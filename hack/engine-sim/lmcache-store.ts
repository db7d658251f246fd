/**
 * LMCache stand-in for the `http`/`lmcache` PD protocol: a KV store shared by the pods of one
 * PD group (one per namespace, model and group label value). A prefill pod publishes the
 * chained hashes of a prompt's full blocks when its prefill is done; a decode pod serving a plain
 * request looks its prompt up and treats the leading blocks found as cached, paying
 * kvTransferMsPerToken for each token it loads. The store is an LRU of block hashes bounded by
 * the profile's lmcacheStoreBlocks; it lives while any pod of its group does.
 */
import { groupId, type PdPeer } from './pd-peer';

/** One group's store: block hashes in LRU order (Map order: oldest first). */
export class LmcacheStore {
  private readonly blocks = new Map<string, true>();
  /** Blocks dropped to stay within capacity. */
  evictions = 0;

  /** An empty store holding at most `capacity` blocks. */
  constructor(readonly capacity: number) {}

  /** Add (or refresh) a prompt's full-block hashes; returns how many were new. */
  publish(hashes: readonly string[]): number {
    let added = 0;
    for (const h of hashes) {
      if (!this.blocks.delete(h)) added++;
      this.blocks.set(h, true);
    }
    while (this.blocks.size > this.capacity) {
      this.blocks.delete(this.blocks.keys().next().value as string);
      this.evictions++;
    }
    return added;
  }

  /** Number of leading hashes present; those blocks become most recently used. */
  lookup(hashes: readonly string[]): number {
    let n = 0;
    while (n < hashes.length && this.blocks.has(hashes[n])) {
      this.blocks.delete(hashes[n]);
      this.blocks.set(hashes[n], true);
      n++;
    }
    return n;
  }

  /** Blocks held. */
  get size(): number {
    return this.blocks.size;
  }
}

/** The stores of every group, created when a grouped pod starts and dropped with its last pod. */
export class LmcacheStores {
  private readonly stores = new Map<string, { store: LmcacheStore; pods: Set<PdPeer> }>();

  /** The store of `pod`'s group (null for pods without a group), creating it on first use. */
  join(pod: PdPeer): LmcacheStore | null {
    if (pod.group === null) return null;
    const id = groupId(pod);
    let entry = this.stores.get(id);
    if (!entry) {
      entry = { store: new LmcacheStore(pod.engine.cfg.profile.lmcacheStoreBlocks), pods: new Set() };
      this.stores.set(id, entry);
    }
    entry.pods.add(pod);
    return entry.store;
  }

  /** The store of `pod`'s group, if it has one and has joined. */
  storeOf(pod: PdPeer): LmcacheStore | null {
    return pod.group === null ? null : (this.stores.get(groupId(pod))?.store ?? null);
  }

  /** A pod closed; the store goes with the last pod of its group. */
  leave(pod: PdPeer): void {
    const id = groupId(pod);
    const entry = this.stores.get(id);
    if (!entry) return;
    entry.pods.delete(pod);
    if (entry.pods.size === 0) this.stores.delete(id);
  }
}
