#!/usr/bin/env node
/**
 * sluice-operator. With --kube it watches a Kubernetes API server (operator/kube). Otherwise,
 * the directory source: watches a folder of YAML, compiles a routing
 * snapshot on every change (debounced), writes it to --snapshot-out, then pushes it to every
 * --push-url and checks every --verify-interval-ms that each still serves it. File problems are logged with file, object and field, and written to --status-out
 * with every object's conditions; the last valid objects keep serving.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { createLogger, type Logger } from '../shared/log/logger';
import { readSnapshotFile } from '../shared/snapshot/snapshot-file';
import { statusKey, type CompiledCondition, type CompiledStatus } from '../shared/snapshot/conditions';
import { httpDataplaneClient } from './dataplane-client';
import { programmedCondition } from './programmed';
import { Publisher, type TargetState } from './publisher';
import { SnapshotFileCopy } from './snapshot-file-copy';
import { Reconciler } from './reconciler';
import { kubeConfigSource } from './kube/kube-config-source';
import { loadKubeConfig, startKubeOperator, type KubeOperator } from './kube/kube-operator';
import { KubeRest } from './kube/kube-rest';
import { LeaderElector, leaderIdentity, leaseTimingFor } from './kube/leader-election';
import { parseOperatorSettings, type OperatorSettings } from './settings';
import { DirectorySource, type FileIssue } from './sources/directory-source';

/** A running directory-source operator. */
export interface DirectoryOperator {
  readonly reconciler: Reconciler;
  readonly publisher: Publisher;
  /** Reloads the folder now (tests use this rather than waiting on the watcher). */
  reload(): void;
  close(): void;
}

function previous(path: string | null, log: Logger): { version: number; hash: string | null } {
  if (!path || !existsSync(path)) return { version: 0, hash: null };
  try {
    const s = readSnapshotFile(path) as { version?: unknown; hash?: unknown };
    if (typeof s.version === 'number' && typeof s.hash === 'string') return { version: s.version, hash: s.hash };
  } catch (err) {
    log.warn({ err, path }, 'previous snapshot unreadable; numbering from 1');
  }
  return { version: 0, hash: null };
}

function writeStatus(path: string, body: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(tmp, path);
}

/**
 * The status file's view of each object: compiled conditions, with Accepted=False for an object
 * whose latest edit was refused (its last valid version keeps serving) or that never was valid.
 */
function objectStatuses(compiled: Map<string, CompiledStatus>, issues: readonly FileIssue[]): Record<string, CompiledStatus> {
  const out: Record<string, CompiledStatus> = Object.fromEntries(compiled);
  const byObject = new Map<string, FileIssue[]>();
  for (const i of issues) {
    const m = /^(ModelRoute|ModelServer|InferencePool) ([^/]+)\/(.+)$/.exec(i.object);
    if (!m) continue;
    const key = statusKey(m[1]!, m[2]!, m[3]!);
    byObject.set(key, [...(byObject.get(key) ?? []), i]);
  }
  for (const [key, list] of byObject) {
    const st = compiled.get(key);
    const accepted: CompiledCondition = { type: 'Accepted', status: 'False', reason: 'Invalid', message: `${list.map((i) => `${i.file}: ${i.path || '(object)'}: ${i.message}`).join('; ')}. ${st ? 'The last valid version keeps serving' : 'Not served until fixed'}` };
    out[key] = { ...st, conditions: [accepted, ...(st?.conditions ?? []).filter((c) => c.type !== 'Accepted')] };
  }
  return out;
}

/** Starts the operator on a folder. */
export function startDirectoryOperator(settings: OperatorSettings, log: Logger = createLogger('operator', settings.logLevel)): DirectoryOperator {
  let reconciler: Reconciler | null = null;
  let lastStatuses = new Map<string, CompiledStatus>();
  let lastIssues: FileIssue[] = [];
  /** Objects refused by validation (not scheduler-configuration problems, which have their own condition). */
  let lastRefused: FileIssue[] = [];
  let publisher: Publisher | null = null;
  const emitStatus = (targets: readonly TargetState[]) => {
    if (!settings.statusOut || !reconciler || !publisher) return;
    // Only replicas that reported serving this hash count (push answer or served-hash check).
    // The reconciler's snapshot, not the last compile's: a renumber changes the version alone.
    const snap = reconciler.current();
    const version = snap?.version ?? 0;
    const applied = targets.filter((t) => t.appliedHash === snap?.hash).length;
    const durable = publisher.durable();
    const programmed = programmedCondition({ applied, total: targets.length, version, noTargets: 'no --push-url given', durable });
    writeStatus(settings.statusOut, {
      snapshot: { version, hash: snap?.hash ?? null, programmed: programmed.message, condition: programmed, durable },
      targets,
      issues: lastIssues,
      objects: objectStatuses(lastStatuses, lastRefused),
    });
  };
  publisher = new Publisher({
    targets: settings.pushUrls,
    client: httpDataplaneClient({ token: settings.pushToken }),
    // Written before every push; a failure shows in the status file's snapshot.condition.
    durable: settings.snapshotOut ? new SnapshotFileCopy(settings.snapshotOut) : null,
    log,
    onStale: (v) => reconciler?.renumberAbove(v),
    onProgress: emitStatus,
  });
  reconciler = new Reconciler(publisher, log, settings.routerConfigNamespace, previous(settings.snapshotOut, log));
  const source = new DirectorySource(settings.watchDir!);
  const reload = () => {
    const { objects, issues } = source.load();
    const result = reconciler!.reconcile(objects);
    const refused = [...issues];
    // Scheduler ConfigMaps parse fine as objects but can still hold a bad configuration.
    for (const si of result.schedulerIssues) {
      for (const i of si.issues) issues.push({ file: source.fileOf(si.object) ?? '', document: 0, object: si.object, path: i.path, message: i.message });
    }
    for (const issue of issues) log.warn({ file: issue.file, document: issue.document, object: issue.object, field: issue.path }, issue.message);
    lastStatuses = result.statuses;
    lastIssues = issues;
    lastRefused = refused;
    for (const [key, status] of result.statuses) {
      for (const c of status.conditions) if (c.status !== 'True') log.warn({ object: key, condition: c.type, reason: c.reason }, c.message);
    }
    emitStatus(publisher!.targets());
  };
  reload();
  source.watch(settings.debounceMs, reload);
  publisher.startVerifying(settings.verifyIntervalMs);
  return {
    reconciler,
    publisher,
    reload,
    close() {
      source.close();
      publisher!.close();
    },
  };
}

if (require.main === module) {
  let settings: OperatorSettings;
  try {
    settings = parseOperatorSettings(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  if (settings.kube) {
    const k = settings.kube;
    const log = createLogger('operator', settings.logLevel);
    try {
      const source = kubeConfigSource(k.kubeconfig);
      log.info(source.kind === 'in-cluster' ? { credentials: 'in-cluster service account' } : { credentials: source.from, files: source.files }, 'Kubernetes credentials');
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(2);
    }
    let op: KubeOperator | null = null;
    const begin = () => startKubeOperator({ ...k, routerConfigNamespace: settings.routerConfigNamespace, pushToken: settings.pushToken, debounceMs: settings.debounceMs, verifyIntervalMs: settings.verifyIntervalMs, secretPollMs: settings.secretPollMs, eventInstance: leaderIdentity(), log }).then((started) => {
      op = started;
      log.info({ namespace: k.namespace, routerConfigNamespace: settings.routerConfigNamespace, dataplanes: k.dataplaneSelector }, 'operator watching the Kubernetes API');
    }, (err: Error) => {
      log.error({ err: err.message }, 'operator failed to start');
      process.exit(1);
    });
    const elector = k.leaderElect
      ? new LeaderElector(new KubeRest(loadKubeConfig(k.kubeconfig)), k.namespace, 'sluice-operator', leaderIdentity(), leaseTimingFor(k.leaseDurationSeconds), log)
      : null;
    if (elector) {
      log.info({ identity: elector.identity }, 'campaigning for the sluice-operator lease');
      // Losing the lease mid-flight: exit, so the replica restarts and campaigns from a clean state.
      elector.run(() => void begin(), () => {
        log.error('lost the sluice-operator lease; exiting');
        process.exit(1);
      });
    } else {
      void begin();
    }
    const stop = async () => {
      await op?.stop();
      await elector?.stop();
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop());
    process.once('SIGINT', () => void stop());
  } else {
    const op = startDirectoryOperator(settings);
    const stop = () => {
      op.close();
      process.exit(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }
}
