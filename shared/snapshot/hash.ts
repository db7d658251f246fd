/** Content hash of a snapshot: everything except version, hash and time, so equal inputs hash equal. */
import { createHash } from 'node:crypto';
import type { RoutingSnapshot } from './schema';

/** sha256 over routes, servers and scheduler configurations, in their compiled (deterministic) order. */
export function snapshotContentHash(s: Pick<RoutingSnapshot, 'routes' | 'servers' | 'schedulers'>): string {
  const schedulers = Object.keys(s.schedulers).sort().map((k) => [k, s.schedulers[k]]);
  return createHash('sha256').update(JSON.stringify({ routes: s.routes, servers: s.servers, schedulers })).digest('hex');
}
