/**
 * Provider credentials (API keys of ExternalModelProviders), held in memory only. The operator
 * sends them with each snapshot push, beside the snapshot and never inside it: the snapshot is
 * stored in a ConfigMap and can be read with the read token, the credentials cannot be read back
 * by any endpoint. A snapshot names a credential by version; a provider whose version is not held
 * (a data plane that restarted from its snapshot file) answers 503 until the operator's next push
 * or verification delivers it, and `GET /v1/snapshot` reports how many are missing so the
 * operator knows to push.
 */
import type { Issue } from '../../shared/api/validate';
import type { RoutingSnapshot } from '../../shared/snapshot/schema';

/** Most credentials one push may carry. */
export const MAX_CREDENTIALS = 4096;
/** Longest credential value, characters. */
export const MAX_CREDENTIAL_LENGTH = 16 * 1024;

/** Checks the `credentials` field of a push; never repeats a value in an issue. */
export function parseCredentials(raw: unknown): { ok: true; values: Map<string, string> } | { ok: false; issues: Issue[] } {
  if (raw === undefined) return { ok: true, values: new Map() };
  if (!Array.isArray(raw)) return { ok: false, issues: [{ path: 'credentials', message: 'must be a list of {version, value}' }] };
  if (raw.length > MAX_CREDENTIALS) return { ok: false, issues: [{ path: 'credentials', message: `at most ${MAX_CREDENTIALS} credentials per push (got ${raw.length})` }] };
  const values = new Map<string, string>();
  const issues: Issue[] = [];
  raw.forEach((c: unknown, i) => {
    const v = c as { version?: unknown; value?: unknown } | null;
    if (typeof v?.version !== 'string' || !/^[0-9a-f]{16}$/.test(v.version)) issues.push({ path: `credentials[${i}].version`, message: 'must be 16 lower-case hex digits' });
    else if (typeof v.value !== 'string' || v.value.length === 0 || v.value.length > MAX_CREDENTIAL_LENGTH || /[\r\n\0]/.test(v.value)) {
      issues.push({ path: `credentials[${i}].value`, message: `must be a non-empty string of at most ${MAX_CREDENTIAL_LENGTH} characters without line breaks (value not shown)` });
    } else values.set(v.version, v.value);
  });
  return issues.length ? { ok: false, issues } : { ok: true, values };
}

/** The credentials the serving snapshot may use. */
export class CredentialStore {
  private values = new Map<string, string>();

  /** Replaces the whole set (each push carries every credential its snapshot names). */
  replace(values: Map<string, string>): void {
    this.values = values;
  }

  /** The value for a version, or undefined. */
  get(version: string): string | undefined {
    return this.values.get(version);
  }

  /** How many credentials `snapshot` names that are not held. */
  missing(snapshot: RoutingSnapshot): number {
    let n = 0;
    for (const p of snapshot.providers ?? []) if (p.credential && !this.values.has(p.credential.version)) n++;
    return n;
  }

  /** How many are held. */
  get size(): number {
    return this.values.size;
  }
}
