/**
 * The Secrets that ExternalModelProviders name, and only those, read one by one with `get`.
 *
 * Least privilege: the operator holds no cluster-wide right to Secrets. A namespace that uses
 * providers with auth grants it `get` there, by binding the `sluice-provider-secrets` ClusterRole
 * in a RoleBinding (or a Role narrowed by resourceNames); RBAC cannot narrow list or watch that
 * way, so the named Secrets are polled (`--secret-poll-ms`, 15 s) and read at once when a provider
 * starts naming them. A Secret the operator may not read is reported as such on the provider.
 */
import type { Secret } from '../../shared/api/core-types';
import type { Logger } from '../../shared/log/logger';
import { KubeError, type KubeClient } from './kube-rest';

/** Reads in flight at once in a poll round. */
const CONCURRENCY = 4;

/** What is known of one named Secret. */
type Known = { secret: Secret } | { missing: string } | null;

/** Fetches and refreshes the Secrets providers name. */
export class ReferencedSecrets {
  private readonly known = new Map<string, Known>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly rest: KubeClient, private readonly log: Logger, private readonly onChange: () => void, private readonly pollMs = 15_000) {}

  /** The Secrets (`namespace/name`) to keep; new ones are read now, others forgotten. */
  setWanted(keys: ReadonlySet<string>): void {
    const fresh = [...keys].filter((k) => !this.known.has(k));
    for (const k of [...this.known.keys()]) if (!keys.has(k)) this.known.delete(k);
    for (const k of fresh) this.known.set(k, null);
    if (fresh.length > 0) void this.read(fresh);
    if (!this.timer && !this.stopped) {
      this.timer = setInterval(() => void this.read([...this.known.keys()]), this.pollMs);
      this.timer.unref();
    }
  }

  /** The Secrets read. */
  secrets(): Secret[] {
    return [...this.known.values()].flatMap((k) => (k && 'secret' in k ? [k.secret] : []));
  }

  /** Why a named Secret could not be read, by `namespace/name`. */
  problems(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [key, k] of this.known) if (k && 'missing' in k) out.set(key, k.missing);
    return out;
  }

  /** Stops polling. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async read(keys: string[]): Promise<void> {
    const queue = [...keys];
    let changed = false;
    const worker = async () => {
      for (let key = queue.shift(); key; key = queue.shift()) if (await this.readOne(key)) changed = true;
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
    if (changed && !this.stopped) this.onChange();
  }

  /** Reads one Secret; true when what is known of it changed. */
  private async readOne(key: string): Promise<boolean> {
    const [namespace, name] = key.split('/') as [string, string];
    let next: Known;
    try {
      const s = await this.rest.call<Secret>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`);
      next = { secret: { ...s, apiVersion: 'v1', kind: 'Secret' } };
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) next = { missing: `Secret ${name} in namespace ${namespace} not found` };
      else if (err instanceof KubeError && err.status === 403) {
        next = { missing: `the operator may not read Secret ${name} in namespace ${namespace}; grant it with a RoleBinding to the ClusterRole sluice-provider-secrets there (docs/external-providers.md#kubernetes-permissions)` };
      } else {
        // A transient failure keeps what was known; the next round tries again.
        this.log.warn({ secret: key, err: (err as Error).message }, 'reading a provider Secret failed; keeping what was read before');
        return false;
      }
    }
    if (!this.known.has(key)) return false; // no longer wanted
    const before = this.known.get(key);
    this.known.set(key, next);
    return fingerprint(before) !== fingerprint(next);
  }
}

/** What a change is: the resourceVersion (or content, where there is none) or the problem. */
function fingerprint(k: Known | undefined): string {
  if (!k) return '';
  if ('missing' in k) return `missing ${k.missing}`;
  const m = k.secret.metadata;
  return `rv ${m.uid ?? ''} ${m.resourceVersion ?? JSON.stringify(k.secret.data ?? {})}`;
}

