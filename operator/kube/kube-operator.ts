/**
 * The operator on a Kubernetes API server: informers → debounced compile → snapshot ConfigMap
 * (only when the hash changed) → push to every ready data-plane pod → status conditions. The
 * compile and push steps are the ones the directory source uses (Reconciler, Publisher).
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Issue } from '../../shared/api/validate';
import type { Logger } from '../../shared/log/logger';
import type { CompiledStatus } from '../../shared/snapshot/conditions';
import { Publisher, type TargetState } from '../publisher';
import { Reconciler } from '../reconciler';
import { DataplaneTargets } from './dataplane-targets';
import { KubeRest } from './kube-rest';
import { KubeSource } from './kube-source';
import { SnapshotConfigMap } from './snapshot-configmap';
import { StatusWriter, type StatusTarget } from './status-writer';

/** Settings of the Kubernetes mode. */
export interface KubeOperatorOptions {
  /** Path of a kubeconfig; null for the in-cluster service account. */
  kubeconfig: string | null;
  /** Namespace of the snapshot ConfigMap and the data-plane pods. */
  namespace: string;
  dataplaneSelector: string;
  dataplaneAdminPort: number;
  snapshotConfigMap: string;
  /** The only namespace whose router ConfigMap applies router-wide (normally `namespace`). */
  routerConfigNamespace: string;
  pushToken: string | null;
  debounceMs: number;
  log: Logger;
}

/** A running Kubernetes-mode operator. */
export interface KubeOperator {
  /** Resolves when the last reconcile's pushes have settled (tests). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** A kubeconfig from a file, or the in-cluster service account when `path` is null. */
export function loadKubeConfig(path: string | null): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}

/** Starts the operator against the API server of `opts.kubeconfig` (or in-cluster). */
export async function startKubeOperator(opts: KubeOperatorOptions): Promise<KubeOperator> {
  const kc = loadKubeConfig(opts.kubeconfig);
  const rest = new KubeRest(kc);
  const log = opts.log;
  const cm = new SnapshotConfigMap(rest, opts.namespace, opts.snapshotConfigMap);
  const statusWriter = new StatusWriter(rest, log);
  const source = new KubeSource(kc, rest, log, opts.debounceMs);
  const targets = new DataplaneTargets(kc, rest, opts.namespace, opts.dataplaneSelector, opts.dataplaneAdminPort, log);

  let reconciler: Reconciler | null = null;
  let lastStatuses = new Map<string, CompiledStatus>();
  let lastRefused = new Map<string, Issue[]>();
  let running: Promise<void> = Promise.resolve();

  const writeStatus = async (states: readonly TargetState[]) => {
    const snap = reconciler?.current();
    if (!snap) return;
    const { objects } = source.snapshot();
    const list: StatusTarget[] = [...objects.routes, ...objects.servers].map((o) => ({
      kind: o.kind,
      namespace: o.metadata.namespace ?? 'default',
      name: o.metadata.name,
      generation: o.metadata.generation,
      existing: ((o.status?.conditions ?? []) as StatusTarget['existing']),
    }));
    const applied = states.filter((t) => t.appliedHash === snap.hash).length;
    await statusWriter.write(list, lastStatuses, lastRefused, { applied, total: states.length, version: snap.version, selector: opts.dataplaneSelector });
  };
  // Status writes are serialised so two reconciles never race on one object's conditions.
  const queueStatus = (states: readonly TargetState[]) => {
    running = running.then(() => writeStatus(states)).catch((err: Error) => log.warn({ err: err.message }, 'status update failed'));
  };

  const publisher = new Publisher({
    targets: [],
    token: opts.pushToken,
    snapshotFile: null,
    log,
    onStale: (v) => reconciler?.renumberAbove(v),
    onProgress: queueStatus,
  });
  reconciler = new Reconciler(publisher, log, opts.routerConfigNamespace, (await cm.read()) ?? { version: 0, hash: null });

  const reconcile = () => {
    const { objects, issues } = source.snapshot();
    lastRefused = new Map(issues.map((i) => [i.object, i.issues]));
    for (const i of issues) log.warn({ object: i.object, issues: i.issues }, 'object refused; its last valid version stays in force');
    const result = reconciler!.reconcile(objects);
    lastStatuses = result.statuses;
    for (const si of result.schedulerIssues) log.warn({ object: si.object, issues: si.issues }, 'scheduler configuration refused');
    running = running
      .then(() => cm.write(result.snapshot))
      .then(() => writeStatus(publisher.targets()))
      .catch((err: Error) => log.warn({ err: err.message }, 'publishing the snapshot ConfigMap failed; retried on the next change'));
  };

  await targets.start((urls) => {
    log.info({ dataplanes: urls }, 'data-plane replicas changed');
    publisher.setTargets(urls);
  });
  await source.start(reconcile);
  reconcile();

  return {
    async settled() {
      await running;
      await publisher.settled();
      await running;
    },
    async stop() {
      publisher.close();
      await Promise.all([source.stop(), targets.stop()]);
      await running;
    },
  };
}
