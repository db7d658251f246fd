/**
 * The reconcile step shared by every source: compile the objects (pure), and publish only when
 * the content hash changed. Versions only go up, across restarts too (the caller seeds the last
 * published version), and jump above any version a data plane reports serving.
 */
import type { Logger } from '../shared/log/logger';
import { compileSnapshot, type ObjectSet } from '../shared/snapshot/compile';
import type { SchedulerIssue } from '../shared/snapshot/compile-scheduler';
import type { CompiledStatus } from '../shared/snapshot/conditions';
import type { RouterPolicy } from '../shared/config/router-policy-parse';
import type { SchedulerConfig } from '../shared/config/scheduler-config';
import { MAX_SNAPSHOT_VERSION, type RoutingSnapshot } from '../shared/snapshot/schema';
import type { Publisher } from './publisher';
import type { ProviderCredential } from '../shared/snapshot/compile-provider';

/** The outcome of one reconcile. */
export interface ReconcileResult {
  snapshot: RoutingSnapshot;
  statuses: Map<string, CompiledStatus>;
  schedulerIssues: SchedulerIssue[];
  changed: boolean;
  compileMs: number;
}

/** Compiles and publishes; remembers the last published version and hash. */
export class Reconciler {
  private version: number;
  private lastHash: string | null;
  private last: RoutingSnapshot | null = null;
  /** The provider credentials `last` names, pushed with it. */
  private lastCredentials: ProviderCredential[] = [];
  /** Scheduler configurations last seen valid, kept in force while their ConfigMap is broken. */
  private lastGoodSchedulers: Record<string, SchedulerConfig> = {};
  /** The router policy (auth, identity, fairness) last in force, kept while the router ConfigMap is broken. */
  private lastGoodPolicy: RouterPolicy = {};
  private readonly publisher: Publisher;
  private readonly log: Logger;

  private readonly routerConfigNamespace: string;

  /** `routerConfigNamespace`: the only namespace whose router ConfigMap applies router-wide. */
  constructor(publisher: Publisher, log: Logger, routerConfigNamespace: string, initial: { version: number; hash: string | null } = { version: 0, hash: null }) {
    this.routerConfigNamespace = routerConfigNamespace;
    this.publisher = publisher;
    this.log = log;
    // A durable copy numbered where no next number exists (edited, or written by something else)
    // would stall every publish; start again from 1 instead.
    const usable = Number.isSafeInteger(initial.version) && initial.version >= 0 && initial.version < MAX_SNAPSHOT_VERSION;
    if (!usable) log.warn({ version: initial.version }, 'previous snapshot version is not a usable number; numbering from 1');
    this.version = usable ? initial.version : 0;
    this.lastHash = usable ? initial.hash : null;
  }

  /** Compiles `objects`; publishes a new version when the content changed. */
  reconcile(objects: ObjectSet, now: Date = new Date()): ReconcileResult {
    const t0 = process.hrtime.bigint();
    const result = compileSnapshot(objects, { version: this.version + 1, generatedAt: now.toISOString(), routerConfigNamespace: this.routerConfigNamespace, lastGoodSchedulers: this.lastGoodSchedulers, lastGoodPolicy: this.lastGoodPolicy });
    const compileMs = Number(process.hrtime.bigint() - t0) / 1e6;
    this.lastGoodSchedulers = { ...this.lastGoodSchedulers, ...result.snapshot.schedulers };
    const { auth, identity, fairness } = result.snapshot;
    this.lastGoodPolicy = { ...(auth ? { auth } : {}), ...(identity ? { identity } : {}), ...(fairness ? { fairness } : {}) };
    const changed = result.snapshot.hash !== this.lastHash;
    if (changed) {
      this.version += 1;
      this.lastHash = result.snapshot.hash;
      this.last = result.snapshot;
      this.lastCredentials = result.credentials;
      this.log.info({ version: this.version, hash: result.snapshot.hash.slice(0, 12), routes: result.snapshot.routes.length, servers: result.snapshot.servers.length, compileMs: Math.round(compileMs * 100) / 100 }, 'snapshot compiled');
      this.publisher.publish(result.snapshot, result.credentials);
      return { ...result, changed, compileMs };
    }
    if (!this.last) {
      // Same content as an earlier run published: serve it under that run's version number.
      this.last = { ...result.snapshot, version: this.version };
      this.lastCredentials = result.credentials;
      this.publisher.publish(this.last, this.lastCredentials);
    }
    return { snapshot: this.last, statuses: result.statuses, schedulerIssues: result.schedulerIssues, changed, compileMs };
  }

  /** The snapshot published last, if any. */
  current(): RoutingSnapshot | null {
    return this.last;
  }

  /**
   * A data plane serves `servingVersion` already: republish the same content numbered above it.
   * A version with no safe integer above it is refused (the data plane could only have it from
   * something other than this operator): renumbering there would loop for ever.
   */
  renumberAbove(servingVersion: number): void {
    if (!this.last || servingVersion < this.version) return;
    if (!Number.isSafeInteger(servingVersion) || servingVersion >= MAX_SNAPSHOT_VERSION) {
      this.log.error({ servingVersion, version: this.version }, `a data plane reports serving snapshot version ${servingVersion}, which has no safe integer above it (the limit is ${MAX_SNAPSHOT_VERSION}); not renumbering. Restart that data plane without its snapshot file so it takes the operator's snapshot`);
      return;
    }
    this.version = servingVersion + 1;
    this.last = { ...this.last, version: this.version };
    this.log.info({ version: this.version }, 'renumbered snapshot above the version a data plane serves');
    this.publisher.publish(this.last, this.lastCredentials);
  }
}
