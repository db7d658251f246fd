/**
 * How the quickstart's printed requests authenticate, from the auth of the snapshot being served:
 *
 * | auth                                   | credential                                             |
 * |----------------------------------------|--------------------------------------------------------|
 * | none                                   | none                                                   |
 * | apiKeys, the file holds a plain `key:` | that key, copied to a 0600 file the lines `cat`        |
 * | apiKeys, digests (`sha256:`) only      | `$SLUICE_API_KEY`, which the user exports first        |
 * | apiKeys, file unreadable or invalid    | none possible: the data plane refuses every request    |
 * | JWT only                               | none possible: the quickstart cannot mint a token      |
 *
 * The key is copied rather than printed for the same reason the debug-dump line reads the push
 * token from its file: a credential should not land in the terminal's scroll-back.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { digestKey, formatIssues, parseApiKeyFile } from '../dataplane/auth/api-key-store';
import type { AuthConfig } from '../shared/config/router-policy';
import { loadBounded } from '../shared/util/bounded-yaml';
import type { Credential } from './quickstart-lines';

/** The variable the user exports a key in when the key file holds digests only. */
export const API_KEY_VARIABLE = 'SLUICE_API_KEY';

/** The first plain key of an API key file that the data plane would accept, or why there is none. */
export function plainKeyIn(file: string): { key: string } | { none: string } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problem: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  const parsed = parseApiKeyFile(text);
  if (!parsed.ok) return { problem: `is invalid: ${formatIssues(parsed.issues)}` };
  const accepted = new Set(parsed.records.map((r) => r.digest.toString('hex')));
  const entries = (loadBounded(text) as { keys: { key?: unknown }[] }).keys;
  const key = entries.map((e) => e.key).find((k): k is string => typeof k === 'string' && accepted.has(digestKey(k).toString('hex')));
  return key !== undefined ? { key } : { none: 'holds digests (sha256) only' };
}

/** The credential for `auth`; a plain key is written to `keyFile` (mode 0600). */
export function credentialFor(auth: AuthConfig | undefined, keyFile: string): Credential {
  rmSync(keyFile, { force: true });
  if (!auth) return { kind: 'none' };
  if (auth.apiKeys) {
    const found = plainKeyIn(auth.apiKeys.file);
    if ('key' in found) {
      writeFileSync(keyFile, found.key, { mode: 0o600 });
      return { kind: 'file', file: keyFile };
    }
    if ('none' in found) {
      return { kind: 'env', variable: API_KEY_VARIABLE, note: `API-key auth is on and ${auth.apiKeys.file} ${found.none}: export ${API_KEY_VARIABLE}=<one of its keys> before running the lines` };
    }
    return { kind: 'unavailable', note: `API-key auth is on and ${auth.apiKeys.file} ${found.problem}; the data plane refuses requests until it loads, so no request line is printed` };
  }
  return { kind: 'unavailable', note: `JWT auth is on (issuer ${auth.jwt?.issuer}): requests need -H 'Authorization: Bearer <a JWT of that issuer>', which the quickstart cannot mint, so no request line is printed` };
}
