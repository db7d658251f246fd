/**
 * ExternalModelProviders into the snapshot: the endpoint, the static headers and which credential
 * to send; the credential's value goes to the caller apart from the snapshot (the operator pushes
 * it to the data planes and never stores it in the snapshot's ConfigMap).
 */
import { createHash } from 'node:crypto';
import { secretValue, type Secret } from '../api/core-types';
import type { ExternalModelProvider } from '../api/external-provider';
import type { CompiledCondition, CompiledStatus } from './conditions';
import type { SnapshotProvider } from './schema';

/** A credential the data planes need, by the version the snapshot names it with. */
export interface ProviderCredential {
  version: string;
  value: string;
}

const ns = (o: { metadata: { namespace?: string } }) => o.metadata.namespace ?? 'default';

/**
 * The version of a Secret key's value. In a cluster it is derived from the Secret's identity and
 * resourceVersion, which change with every write, so the snapshot (readable as a ConfigMap) says
 * nothing about the value. From files, where objects have no resourceVersion, it hashes the value:
 * local runs only.
 */
export function credentialVersion(secret: Secret, key: string, value: string): string {
  const m = secret.metadata;
  const basis = m.resourceVersion ? `rv\0${m.uid ?? ''}\0${ns(secret)}/${m.name}\0${m.resourceVersion}\0${key}` : `value\0${key}\0${value}`;
  return createHash('sha256').update(basis).digest('hex').slice(0, 16);
}

/** One provider compiled, its status, and its credential when it has one. */
export function compileProvider(p: ExternalModelProvider, secrets: ReadonlyMap<string, Secret>, secretProblems?: ReadonlyMap<string, string>): { compiled: SnapshotProvider; status: CompiledStatus; credential: ProviderCredential | null } {
  const spec = p.spec;
  const namespace = ns(p);
  const compiled: SnapshotProvider = {
    key: `${namespace}/${p.metadata.name}`,
    type: spec.providerType ?? 'OpenAI',
    baseURL: spec.baseURL.replace(/\/+$/, ''),
    insecureSkipVerify: spec.insecureSkipVerify === true,
    headers: Object.fromEntries(Object.entries(spec.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
  if (spec.model !== undefined) compiled.model = spec.model;
  const gen = p.metadata.generation;
  const conditions: CompiledCondition[] = [];
  let credential: ProviderCredential | null = null;
  const ref = spec.auth?.secretRef;
  if (!ref) {
    conditions.push({ type: 'CredentialsResolved', status: 'True', reason: 'NoAuth', message: 'no auth set: requests are sent without a credential' });
  } else {
    const secret = secrets.get(`${namespace}/${ref.name}`);
    const value = secret ? secretValue(secret, ref.key) : null;
    const where = `Secret ${ref.name} in namespace ${namespace}`;
    let problem: string | null = null;
    const unreadable = secretProblems?.get(`${namespace}/${ref.name}`);
    if (!secret && unreadable && !unreadable.endsWith('not found')) problem = unreadable;
    else if (!secret) problem = `${where} not found; create it with the API key under key ${ref.key}`;
    else if (value === null) problem = `${where} has no key ${ref.key}; add it or fix auth.secretRef.key`;
    else if (value.trim() === '') problem = `${where} key ${ref.key} is empty`;
    else if (/[\r\n\0]/.test(value.trim())) problem = `${where} key ${ref.key} contains a line break or NUL, which cannot be sent in a header`;
    if (problem) {
      compiled.unavailable = `ExternalModelProvider ${compiled.key} has no usable credential: ${problem}`;
      conditions.push({ type: 'CredentialsResolved', status: 'False', reason: 'CredentialNotFound', message: `${problem}. Requests routed to this provider get 503 until then` });
    } else {
      // Surrounding white space is an artefact of `echo key | base64`, never part of a key.
      const v = value!.trim();
      credential = { version: credentialVersion(secret!, ref.key, v), value: v };
      compiled.credential = { secret: `${namespace}/${ref.name}`, key: ref.key, version: credential.version };
      conditions.push({ type: 'CredentialsResolved', status: 'True', reason: 'SecretFound', message: `sends the value of ${where}, key ${ref.key}, as Authorization: Bearer` });
    }
  }
  const url = new URL(compiled.baseURL);
  const ready: CompiledCondition = compiled.unavailable
    ? { type: 'Ready', status: 'False', reason: 'CredentialNotFound', message: compiled.unavailable }
    : { type: 'Ready', status: 'True', reason: 'Ready', message: `requests go to ${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}${compiled.model ? ` as model ${compiled.model}` : ''}${compiled.insecureSkipVerify ? '; its certificate is NOT verified (insecureSkipVerify)' : ''}` };
  const accepted: CompiledCondition = { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'the spec is valid' };
  const all = [accepted, ready, ...conditions];
  for (const c of all) if (gen !== undefined) c.observedGeneration = gen;
  return { compiled, status: { conditions: all }, credential };
}
