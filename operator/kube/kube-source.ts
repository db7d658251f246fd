/**
 * The Kubernetes source: informers from @kubernetes/client-node for ModelRoute, ModelServer,
 * ExternalModelProvider and InferencePool (both API groups, when their CRDs exist), Pods,
 * ConfigMaps and Secrets (provider credentials), feeding the same
 * reconcile as the directory source. client-node's informer does not restart itself after an
 * error, so each one is wrapped to restart with capped exponential backoff. Every change
 * coalesces into one debounced callback. Objects are validated like the directory source does
 * (the API server checked the CRD schema; the semantic checks run here) and an invalid object
 * keeps its last valid version in force.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import type { ConfigMap, Pod, Secret } from '../../shared/api/core-types';
import type { ExternalModelProvider } from '../../shared/api/external-provider';
import type { InferencePool } from '../../shared/api/inference-pool';
import type { ModelRoute } from '../../shared/api/model-route';
import type { ModelServer } from '../../shared/api/model-server';
import { validateObject, type Issue } from '../../shared/api/validate';
import type { Logger } from '../../shared/log/logger';
import type { ObjectSet } from '../../shared/snapshot/compile';
import { KubeError, type KubeRest } from './kube-rest';

/** One watched resource. */
interface Watched {
  kind: string;
  apiVersion: string;
  /** Collection path, e.g. `/apis/networking.serving.volcano.sh/v1alpha1/modelroutes`. */
  path: string;
  /** An API whose CRD may be absent (InferencePool): a 404 means "none", not an error. */
  optional?: boolean;
  /** Only objects matching this field selector are listed and watched. */
  fieldSelector?: string;
  /** Without permission to list them (403), run without them instead of retrying for ever. */
  forbiddenOk?: boolean;
}

const WATCHED: Watched[] = [
  { kind: 'ModelRoute', apiVersion: 'networking.serving.volcano.sh/v1alpha1', path: '/apis/networking.serving.volcano.sh/v1alpha1/modelroutes' },
  { kind: 'ModelServer', apiVersion: 'networking.serving.volcano.sh/v1alpha1', path: '/apis/networking.serving.volcano.sh/v1alpha1/modelservers' },
  { kind: 'InferencePool', apiVersion: 'inference.networking.k8s.io/v1', path: '/apis/inference.networking.k8s.io/v1/inferencepools', optional: true },
  { kind: 'InferencePool', apiVersion: 'inference.networking.x-k8s.io/v1alpha2', path: '/apis/inference.networking.x-k8s.io/v1alpha2/inferencepools', optional: true },
  { kind: 'ExternalModelProvider', apiVersion: 'networking.serving.volcano.sh/v1alpha1', path: '/apis/networking.serving.volcano.sh/v1alpha1/externalmodelproviders', optional: true },
  { kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods' },
  // Provider credentials. Helm release and service-account token Secrets are the large and
  // numerous kinds and never hold one, so they are not even listed (docs/security.md).
  { kind: 'Secret', apiVersion: 'v1', path: '/api/v1/secrets', fieldSelector: 'type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token', forbiddenOk: true },
  { kind: 'ConfigMap', apiVersion: 'v1', path: '/api/v1/configmaps' },
];

/** An object refused by validation, for status and logs. */
export interface ObjectIssue {
  object: string;
  issues: Issue[];
  /** The refused object as stored: its generation and status, which the last valid copy does not have. */
  current: KubernetesObject;
}

type Informer = ListWatch<KubernetesObject>;

const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 30_000;

/** Watches the cluster and keeps a validated view of the objects Sluice compiles. */
export class KubeSource {
  private readonly informers: { w: Watched; informer: Informer | null; absent: boolean }[] = [];
  private readonly lastGood = new Map<string, KubernetesObject>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private onChange: (() => void) | null = null;

  constructor(private readonly kc: KubeConfig, private readonly rest: KubeRest, private readonly log: Logger, private readonly debounceMs = 100) {}

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
      const path = w.fieldSelector ? `${w.path}?fieldSelector=${encodeURIComponent(w.fieldSelector)}` : w.path;
      const body = await this.rest.call<{ items: KubernetesObject[]; metadata: { resourceVersion?: string } }>('GET', path);
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
      if (w.forbiddenOk && err instanceof KubeError && err.status === 403) {
        entry.absent = true;
        this.log.warn({ resource: w.path }, `no permission to list ${w.kind}s: ExternalModelProviders with auth report CredentialNotFound; grant get, list and watch on secrets (manifests/base/rbac.yaml)`);
        return;
      }
      return this.retry(w, attempt, err);
    }
    // makeInformer takes no field selector; ListWatch, which it wraps, does.
    const informer: Informer = new ListWatch(w.path, new Watch(this.kc), list, false, undefined, w.fieldSelector);
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
          case 'Secret': objects.secrets.push(obj as Secret); break;
          default: objects.inferencePools.push(obj as InferencePool);
        }
      }
    }
    for (const key of [...this.lastGood.keys()]) if (!seen.has(key)) this.lastGood.delete(key);
    return { objects, issues };
  }

  /** Stops every informer. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(this.informers.map((e) => e.informer?.stop()));
  }
}
