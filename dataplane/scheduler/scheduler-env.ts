/**
 * State the scheduler plugins share and keep across snapshots: the prefix indexes (one per hash
 * block size) and the source of randomness. A live configuration change rebuilds the plugins but
 * not what they learnt; an endpoint that leaves every snapshot is forgotten.
 */
import type { EndpointRegistry } from '../proxy/endpoint-registry';
import { PrefixIndex } from './prefix-index';
import type { PluginEnv, Random } from './types';

/** The data plane's one plugin environment. */
export class SchedulerEnv implements PluginEnv {
  readonly random: Random;
  private readonly indexes = new Map<number, PrefixIndex>();

  constructor(registry: EndpointRegistry, random: Random = Math.random) {
    this.random = random;
    registry.onRemoved((ep) => {
      for (const idx of this.indexes.values()) idx.drop(ep.id);
    });
  }

  /** The prefix index for a block size, created on first use. */
  prefixIndex(blockSize: number): PrefixIndex {
    let idx = this.indexes.get(blockSize);
    if (!idx) {
      idx = new PrefixIndex(31250);
      this.indexes.set(blockSize, idx);
    }
    return idx;
  }

  /** Blocks remembered per endpoint id, per block size, for the debug dump. */
  dump(): Record<string, Record<number, number>> {
    return Object.fromEntries([...this.indexes].map(([size, idx]) => [String(size), idx.sizes()]));
  }
}
