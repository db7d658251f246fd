/**
 * Finds the data planes to push to: Running pods with an IP (and not being deleted) in the
 * operator's namespace that match the data-plane label selector, as `http://<podIP>:<admin port>`.
 * Not only Ready ones: a data plane becomes Ready once it has a snapshot, so waiting for Ready
 * would leave a fresh install (no snapshot ConfigMap yet) with nothing ever ready. Watched with an informer (same
 * restart-on-error treatment as the object informers), so a new replica gets the current snapshot
 * as soon as it is ready.
 */
import { makeInformer, type KubeConfig, type KubernetesListObject, type V1Pod } from '@kubernetes/client-node';
import type { Pod } from '../../shared/api/core-types';
import type { Logger } from '../../shared/log/logger';
import type { KubeRest } from './kube-rest';

/** Watches data-plane pods and reports their admin URLs. */
export class DataplaneTargets {
  private informer: ReturnType<typeof makeInformer<V1Pod>> | null = null;
  private last = '';
  private stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly rest: KubeRest,
    private readonly namespace: string,
    readonly selector: string,
    private readonly adminPort: number,
    private readonly log: Logger,
  ) {}

  /** Starts watching; `onChange` gets the sorted admin URLs whenever they change. */
  async start(onChange: (urls: string[]) => void): Promise<void> {
    const path = `/api/v1/namespaces/${this.namespace}/pods`;
    const query = `?labelSelector=${encodeURIComponent(this.selector)}`;
    const list = async (): Promise<KubernetesListObject<V1Pod>> => {
      const body = await this.rest.call<{ items: V1Pod[]; metadata: { resourceVersion?: string } }>('GET', `${path}${query}`);
      return { apiVersion: 'v1', kind: 'List', items: body.items, metadata: body.metadata };
    };
    const informer = makeInformer(this.kc, path, list, this.selector);
    this.informer = informer;
    const emit = () => {
      const urls = informer.list().filter((p) => p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp)
        .map((p) => p as unknown as Pod)
        .map((p) => `http://${p.status!.podIP}:${this.adminPort}`).sort();
      const key = urls.join(',');
      if (key === this.last) return;
      this.last = key;
      onChange(urls);
    };
    for (const ev of ['add', 'update', 'delete'] as const) informer.on(ev, emit);
    informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      this.log.warn({ err: (err as Error)?.message }, 'data-plane pod watch failed; restarting');
      setTimeout(() => informer.start().catch(() => undefined), 1000).unref();
    });
    await informer.start();
    emit();
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer?.stop();
  }
}
