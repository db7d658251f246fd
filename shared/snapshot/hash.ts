/** Content hash of a snapshot: everything except version, hash and time, so equal inputs hash equal. */
import { createHash } from 'node:crypto';
import type { RoutingSnapshot } from './schema';

/** sha256 over the routes and servers, in their compiled (deterministic) order. */
export function snapshotContentHash(s: Pick<RoutingSnapshot, 'routes' | 'servers'>): string {
  return createHash('sha256').update(JSON.stringify({ routes: s.routes, servers: s.servers })).digest('hex');
}
