/** Content hash of a snapshot: everything except version, hash and time, so equal inputs hash equal. */
import { createHash } from 'node:crypto';
import type { RoutingSnapshot } from './schema';

/** The hashed part: every content field (a field left out here would change without a new snapshot). */
export type SnapshotContent = Pick<RoutingSnapshot, 'routes' | 'servers' | 'providers' | 'schedulers' | 'auth' | 'identity' | 'fairness'>;

/** sha256 over routes, servers, scheduler configurations and the router policy, in a deterministic order. */
export function snapshotContentHash(s: SnapshotContent): string {
  const schedulers = Object.keys(s.schedulers).sort().map((k) => [k, s.schedulers[k]]);
  const policy = { auth: s.auth ?? null, identity: s.identity ?? null, fairness: s.fairness ?? null };
  // Providers only when present, so snapshots without any hash as they always did.
  const providers = s.providers?.length ? { providers: s.providers } : {};
  return createHash('sha256').update(JSON.stringify({ routes: s.routes, servers: s.servers, ...providers, schedulers, policy })).digest('hex');
}
