/**
 * Holds the serving RoutingTable and applies new snapshots: validate, check the version, build
 * the table, then swap one reference. A refused snapshot changes nothing. Requests that started
 * on the old table finish on it, since they hold their own reference.
 */
import type { Issue } from '../../shared/api/validate';
import { validateSnapshot } from '../../shared/snapshot/validate-snapshot';
import type { EndpointRegistry } from '../proxy/endpoint-registry';
import type { PluginEnv } from '../scheduler/types';
import { RoutingTable } from './routing-table';

/** Outcome of offering a snapshot. */
export type ApplyResult =
  | { status: 'applied'; version: number; hash: string }
  | { status: 'unchanged'; version: number; hash: string }
  | { status: 'invalid'; issues: Issue[] }
  | { status: 'stale'; message: string; version: number };

/** The data plane's one mutable routing reference. */
export class SnapshotStore {
  private table: RoutingTable | null = null;
  private readonly registry: EndpointRegistry;
  private readonly env: PluginEnv;
  private readonly listeners: ((table: RoutingTable) => void)[] = [];

  constructor(registry: EndpointRegistry, env: PluginEnv) {
    this.registry = registry;
    this.env = env;
  }

  /** The serving table, or null before the first snapshot. */
  current(): RoutingTable | null {
    return this.table;
  }

  /** Calls `fn` after every applied snapshot. */
  onApply(fn: (table: RoutingTable) => void): void {
    this.listeners.push(fn);
  }

  /** Validates and applies a decoded snapshot. */
  apply(raw: unknown): ApplyResult {
    const check = validateSnapshot(raw);
    if (!check.ok) return { status: 'invalid', issues: check.issues };
    const next = check.snapshot;
    const cur = this.table?.snapshot;
    if (cur) {
      if (next.version < cur.version) {
        return { status: 'stale', version: cur.version, message: `snapshot version ${next.version} is older than the serving version ${cur.version}` };
      }
      if (next.version === cur.version) {
        if (next.hash === cur.hash) return { status: 'unchanged', version: cur.version, hash: cur.hash };
        return { status: 'stale', version: cur.version, message: `snapshot version ${next.version} is already serving with other content (hash ${cur.hash.slice(0, 12)}); push a higher version` };
      }
    }
    let table: RoutingTable;
    try {
      table = new RoutingTable(next, this.registry, this.env);
    } catch (err) {
      // A scheduler the registry cannot build: refuse the snapshot whole.
      return { status: 'invalid', issues: [{ path: 'schedulers', message: (err as Error).message }] };
    }
    this.table = table;
    for (const fn of this.listeners) fn(table);
    return { status: 'applied', version: next.version, hash: next.hash };
  }
}
