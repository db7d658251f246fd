/**
 * The Kubernetes source: informers from @kubernetes/client-node for ModelRoute, ModelServer,
 * ExternalModelProvider and InferencePool (both API groups, when their CRDs exist), Pods and
 * ConfigMaps, plus the Secrets providers name (read one by one: referenced-secrets.ts), feeding the same
 * reconcile as the directory source. client-node's informer does not restart itself after an
 * error, so each one is wrapped to restart with capped exponential backoff. Every change
 * coalesces into one debounced callback. Objects are validated like the directory source does
 * (the API server checked the CRD schema; the semantic checks run here) and an invalid object
 * keeps its last valid version in force.
 */
import { makeInformer, type KubeConfig, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import type { ConfigMap, Pod, Secret } from '../../shared/api/core-types';
import type { ExternalModelProvider } from '../../shared/api/external-provider';
import type { InferencePool } from '../../shared/api/inference-pool';
import type { ModelRoute } from '../../shared/api/model-route';
import type { ModelServer } from '../../shared/api/model-server';
import { validateObject, type Issue } from '../../shared/api/validate';
import type { Logger } from '../../shared/log/logger';
import type { ObjectSet } from '../../shared/snapshot/compile';
import { KubeError, type KubeRest } from './kube-rest';
import { ReferencedSecrets } from './referenced-secrets';

/** One watched resource. */
interface Watched {
  kind: string;
  apiVersion: string;
  /** Collection path, e.g. `/apis/networking.serving.volcano.sh/v1alpha1/modelroutes`. */
  path: string;
  /** An API whose CRD may be absent (InferencePool): a 404 means "none", not an error. */
  optional?: boolean;
}

const WATCHED: Watched[] = [
  { kind: 'ModelRoute', apiVersion: 'networking.serving.volcano.sh/v1alpha1', path: '/apis/networking.serving.volcano.sh/v1alpha1/modelroutes' },
  { kind: 'ModelServer', apiVersion: 'networking.serving.volcano.sh/v1alpha1', path: '/apis/networking.serving.volcano.sh/v1alpha1/modelservers' },
  { kind: 'InferencePool', apiVersion: 'inference.networking.k8s.io/v1', path: '/apis/inference.networking.k8s.io/v1/inferencepools', optional: true },
  { kind: 'InferencePool', apiVersion: 'inference.networking.x-k8s.io/v1alpha2', path: '/apis/inference.networking.x-k8s.io/v1alpha2/inferencepools', optional: true },
  { kind: 'ExternalModelProvider', apiVersion: 'networking.serving.volcano.sh/v1alpha1', path: '/apis/networking.serving.volcano.sh/v1alpha1/externalmodelproviders', optional: true },
  { kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods' },
  { kind: 'ConfigMap', apiVersion: 'v1', path: '/api/v1/configmaps' },
];

/** An object refused by validation, for status and logs. */
export interface ObjectIssue {
  object: string;
  issues: Issue[];
  /** The refused object as stored: its generation and status, which the last valid copy does not have. */
  current: KubernetesObject;
}

type Informer = ReturnType<typeof makeInformer<KubernetesObject>>;

const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 30_000;

/** Watches the cluster and keeps a validated view of the objects Sluice compiles. */
export class KubeSource {
  private readonly informers: { w: Watched; informer: Informer | null; absent: boolean }[] = [];
  private readonly lastGood = new Map<string, KubernetesObject>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private onChange: (() => void) | null = null;

  /** The Secrets ExternalModelProviders name, fetched by name (the operator may not list Secrets). */
  private readonly secrets: ReferencedSecrets;

  constructor(private readonly kc: KubeConfig, private readonly rest: KubeRest, private readonly log: Logger, private readonly debounceMs = 100, secretPollMs = 15_000) {
    this.secrets = new ReferencedSecrets(rest, log, () => this.changed(), secretPollMs);
  }

  /** Starts every informer; resolves once each has listed once (or is known absent). */
  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    await Promise.all(WATCHED.map((w) => this.startOne(w)));
  }

  private async startOne(w: Watched, attempt = 0): Promise<void> {
    if (this.stopped) return;
    const entry = this.informers.find((e) => e.w === w) ?? { w, informer: null, absent: false };
    if (!this.informers.includes(entry)) this.informers.push(entry);
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const body = await this.rest.call<{ items: KubernetesObject[]; metadata: { resourceVersion?: string } }>('GET', w.path);
      // List items carry no apiVersion/kind; the informer hands them out as they are.
      for (const item of body.items) {
        item.apiVersion = w.apiVersion;
        item.kind = w.kind;
      }
      return { apiVersion: 'v1', kind: 'List', items: body.items, metadata: body.metadata };
    };
    try {
      await list();
    } catch (err) {
      if (w.optional && err instanceof KubeError && err.status === 404) {
        entry.absent = true;
        this.log.info({ resource: w.path }, 'API not installed; not watching it');
        return;
      }
      return this.retry(w, attempt, err);
    }
    const informer = makeInformer(this.kc, w.path, list);
    entry.informer = informer;
    const changed = () => this.changed();
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('error', (err: unknown) => {
      this.log.warn({ resource: w.path, err: (err as Error)?.message }, 'informer failed; restarting');
      this.retry(w, attempt + 1, err).catch(() => undefined);
    });
    await informer.start();
    this.changed();
  }

  private async retry(w: Watched, attempt: number, err: unknown): Promise<void> {
    if (this.stopped) return;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    this.log.warn({ resource: w.path, err: (err as Error)?.message, retryInMs: delay }, 'cannot list; retrying');
    await new Promise((r) => setTimeout(r, delay).unref());
    return this.startOne(w, attempt);
  }

  private changed(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onChange?.();
    }, this.debounceMs);
  }

  /** The current, validated objects, and the objects refused. */
  snapshot(): { objects: ObjectSet; issues: ObjectIssue[] } {
    const objects = { routes: [] as ModelRoute[], servers: [] as ModelServer[], pods: [] as Pod[], configMaps: [] as ConfigMap[], inferencePools: [] as InferencePool[], externalProviders: [] as ExternalModelProvider[], secrets: [] as Secret[] };
    const issues: ObjectIssue[] = [];
    const seen = new Set<string>();
    for (const { informer } of this.informers) {
      for (const raw of informer?.list() ?? []) {
        const key = `${raw.kind} ${raw.metadata?.namespace ?? ''}/${raw.metadata?.name ?? ''}`;
        seen.add(key);
        const r = validateObject(raw);
        let obj: KubernetesObject | undefined;
        if (r.ok) {
          obj = r.object as KubernetesObject;
          this.lastGood.set(key, obj);
        } else {
          issues.push({ object: key, issues: r.issues, current: raw });
          obj = this.lastGood.get(key);
        }
        if (!obj) continue;
        switch (obj.kind) {
          case 'ModelRoute': objects.routes.push(obj as ModelRoute); break;
          case 'ModelServer': objects.servers.push(obj as ModelServer); break;
          case 'Pod': objects.pods.push(obj as Pod); break;
          case 'ConfigMap': objects.configMaps.push(obj as ConfigMap); break;
          case 'ExternalModelProvider': objects.externalProviders.push(obj as ExternalModelProvider); break;
          default: objects.inferencePools.push(obj as InferencePool);
        }
      }
    }
    for (const key of [...this.lastGood.keys()]) if (!seen.has(key)) this.lastGood.delete(key);
    // Read the Secrets the providers name now; a change in them comes back through changed().
    this.secrets.setWanted(new Set(objects.externalProviders.flatMap((p) => (p.spec.auth ? [`${p.metadata.namespace ?? 'default'}/${p.spec.auth.secretRef.name}`] : []))));
    objects.secrets.push(...this.secrets.secrets());
    return { objects: { ...objects, secretProblems: this.secrets.problems() }, issues };
  }

  /** Stops every informer. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.secrets.stop();
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(this.informers.map((e) => e.informer?.stop()));
  }
}
