/**
 * Holds the serving RoutingTable and applies new snapshots: validate, check the version, build
 * the table, then swap one reference. A refused snapshot changes nothing. Requests that started
 * on the old table finish on it, since they hold their own reference.
 */
import type { Issue } from '../../shared/api/validate';
import { validateSnapshot } from '../../shared/snapshot/validate-snapshot';
import type { EndpointRegistry } from '../proxy/endpoint-registry';
import { CredentialStore, parseCredentials } from '../proxy/credentials';
import type { ProviderPools } from '../proxy/provider-pools';
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
  private readonly providerPools: ProviderPools | null;
  /** Provider credentials, replaced with each push that carries them (credentials.ts). */
  readonly credentials = new CredentialStore();

  constructor(registry: EndpointRegistry, env: PluginEnv, providerPools: ProviderPools | null = null) {
    this.registry = registry;
    this.env = env;
    this.providerPools = providerPools;
  }

  /** The serving table, or null before the first snapshot. */
  current(): RoutingTable | null {
    return this.table;
  }

  /** Calls `fn` after every applied snapshot. */
  onApply(fn: (table: RoutingTable) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Validates and applies a decoded snapshot. `credentials` (from a push) replace the held ones
   * when the snapshot is applied or already serving; a refused snapshot changes neither.
   */
  apply(raw: unknown, credentials?: unknown): ApplyResult {
    const check = validateSnapshot(raw);
    if (!check.ok) return { status: 'invalid', issues: check.issues };
    const creds = parseCredentials(credentials);
    if (!creds.ok) return { status: 'invalid', issues: creds.issues };
    const keep = credentials === undefined ? null : creds.values;
    const next = check.snapshot;
    const cur = this.table?.snapshot;
    if (cur) {
      if (next.version < cur.version) {
        return { status: 'stale', version: cur.version, message: `snapshot version ${next.version} is older than the serving version ${cur.version}` };
      }
      if (next.version === cur.version) {
        if (next.hash === cur.hash) {
          if (keep) this.credentials.replace(keep);
          return { status: 'unchanged', version: cur.version, hash: cur.hash };
        }
        return { status: 'stale', version: cur.version, message: `snapshot version ${next.version} is already serving with other content (hash ${cur.hash.slice(0, 12)}); push a higher version` };
      }
    }
    let table: RoutingTable;
    try {
      table = new RoutingTable(next, this.registry, this.env, this.providerPools);
    } catch (err) {
      // A scheduler the registry cannot build: refuse the snapshot whole.
      return { status: 'invalid', issues: [{ path: 'schedulers', message: (err as Error).message }] };
    }
    if (keep) this.credentials.replace(keep);
    this.table = table;
    for (const fn of this.listeners) fn(table);
    return { status: 'applied', version: next.version, hash: next.hash };
  }
}
