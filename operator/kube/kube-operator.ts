/**
 * The operator on a Kubernetes API server: informers → debounced compile → snapshot ConfigMap
 * (only when the hash changed) → push to every data-plane pod → periodic check of what each one
 * serves → status conditions. The compile, push and check steps are the ones the directory
 * source uses (Reconciler, Publisher).
 */
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Issue } from '../../shared/api/validate';
import type { Logger } from '../../shared/log/logger';
import type { CompiledStatus } from '../../shared/snapshot/conditions';
import { httpDataplaneClient } from '../dataplane-client';
import { kubeConfigSource } from './kube-config-source';
import { Publisher, type TargetState } from '../publisher';
import { Reconciler } from '../reconciler';
import { DataplaneTargets } from './dataplane-targets';
import { EventRecorder } from './event-recorder';
import { KubeRest } from './kube-rest';
import { KubeSource, type ObjectIssue } from './kube-source';
import { SnapshotConfigMap } from './snapshot-configmap';
import { StatusWriter } from './status-writer';
import { statusTargets } from './status-targets';

/** Settings of the Kubernetes mode. */
export interface KubeOperatorOptions {
  /** Path of a kubeconfig; null to use $KUBECONFIG, the in-cluster service account or ~/.kube/config. */
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
  /** How often each data plane is asked which snapshot it serves (jittered ± 10 %). */
  verifyIntervalMs: number;
  /** How often the Secrets providers name are read again. */
  secretPollMs?: number;
  /** This replica's name in the Events it records (reportingInstance). */
  eventInstance: string;
  log: Logger;
}

/** A running Kubernetes-mode operator. */
export interface KubeOperator {
  /** Resolves when the last reconcile's pushes have settled (tests). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** A KubeConfig from kubeConfigSource's choice. */
export function loadKubeConfig(path: string | null, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const source = kubeConfigSource(path, env);
  const kc = new KubeConfig();
  if (source.kind === 'in-cluster') {
    kc.loadFromCluster();
    return kc;
  }
  kc.loadFromFile(source.files[0]);
  for (const file of source.files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    kc.mergeConfig(more);
  }
  if (!kc.getCurrentCluster()) throw new Error(`${source.from} (${source.files.join(delimiter)}): no current context with a cluster`);
  return kc;
}

/** Starts the operator against the API server of `opts.kubeconfig` (or in-cluster). */
export async function startKubeOperator(opts: KubeOperatorOptions): Promise<KubeOperator> {
  const kc = loadKubeConfig(opts.kubeconfig);
  const rest = new KubeRest(kc);
  const log = opts.log;
  const cm = new SnapshotConfigMap(rest, opts.namespace, opts.snapshotConfigMap);
  const statusWriter = new StatusWriter(rest, log, opts.namespace, new EventRecorder(rest, log, opts.eventInstance));
  const source = new KubeSource(kc, rest, log, opts.debounceMs, opts.secretPollMs);
  const targets = new DataplaneTargets(kc, rest, opts.namespace, opts.dataplaneSelector, opts.dataplaneAdminPort, log);

  let reconciler: Reconciler | null = null;
  let lastStatuses = new Map<string, CompiledStatus>();
  let lastIssues: ObjectIssue[] = [];
  let running: Promise<void> = Promise.resolve();

  const writeStatus = async (states: readonly TargetState[]) => {
    const snap = reconciler?.current();
    if (!snap) return;
    const { objects } = source.snapshot();
    const list = statusTargets(objects, lastIssues, opts.namespace);
    const refused = new Map<string, Issue[]>(lastIssues.map((i) => [i.object, i.issues]));
    // Only replicas that reported serving this hash count; a restarted one drops out until re-pushed.
    const applied = states.filter((t) => t.appliedHash === snap.hash).length;
    await statusWriter.write(list, lastStatuses, refused, { applied, total: states.length, version: snap.version, noTargets: `no data-plane pod matches ${opts.dataplaneSelector}`, durable: publisher.durable() });
  };
  // Status writes are serialised so two reconciles never race on one object's conditions.
  const queueStatus = (states: readonly TargetState[]) => {
    running = running.then(() => writeStatus(states)).catch((err: Error) => log.warn({ err: err.message }, 'status update failed'));
  };

  // The ConfigMap is the publisher's durable copy: written before each push, its failure shown
  // in every route's Programmed condition.
  const publisher: Publisher = new Publisher({
    targets: [],
    client: httpDataplaneClient({ token: opts.pushToken }),
    durable: cm,
    log,
    onStale: (v) => reconciler?.renumberAbove(v),
    onProgress: queueStatus,
  });
  reconciler = new Reconciler(publisher, log, opts.routerConfigNamespace, (await cm.read()) ?? { version: 0, hash: null });

  const reconcile = () => {
    const { objects, issues } = source.snapshot();
    lastIssues = issues;
    for (const i of issues) log.warn({ object: i.object, issues: i.issues }, 'object refused; its last valid version stays in force');
    const result = reconciler!.reconcile(objects);
    lastStatuses = result.statuses;
    for (const si of result.schedulerIssues) log.warn({ object: si.object, issues: si.issues }, 'scheduler configuration refused');
    queueStatus(publisher.targets());
  };

  await targets.start((urls) => {
    log.info({ dataplanes: urls }, 'data-plane replicas changed');
    publisher.setTargets(urls);
  });
  await source.start(reconcile);
  reconcile();
  publisher.startVerifying(opts.verifyIntervalMs);

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
