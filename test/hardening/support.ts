/**
 * Shared set-up of the hardening tests: the quickstart's servers, pods and simple route on a
 * loopback subnet, optionally with API-key auth on (the key file beside the watched folder).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { example, relocatePods, startLocalSluice, type LocalSluice } from '../helpers/cluster';

/** A key the test key file grants (user `team-a`). */
export const TEST_KEY = 'sk-hardening-3f9c1a7e5b2d4c68';
/** The model of the quickstart's simple route. */
export const MODEL = 'deepseek-simple';

/** The router ConfigMap turning API keys on, read from `file`. */
export function apiKeyRouterConfig(file: string, namespace = 'default', name = 'sluice-router-config'): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: ${namespace}
data:
  routerConfiguration: |-
    auth:
      apiKeys:
        file: ${file}
`;
}

/** Starts a local Sluice serving the quickstart's simple route; with `auth`, API keys are required. */
export async function startQuickstartSluice(opts: { subnet: number; auth?: boolean; dataplaneArgs?: string[]; timeScale?: number; extraFiles?: Record<string, string> }): Promise<LocalSluice> {
  const files: Record<string, string> = {
    'modelservers.yaml': example('modelservers.yaml'),
    'pods.yaml': relocatePods(example('pods.yaml'), opts.subnet),
    'modelroute-simple.yaml': example('modelroute-simple.yaml'),
    ...opts.extraFiles,
  };
  if (opts.auth) {
    // Outside the watched folder: the operator would read it as an API object.
    const keyFile = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys.yaml');
    writeFileSync(keyFile, `keys:\n- id: team-a\n  key: ${TEST_KEY}\n`);
    files['router-config.yaml'] = apiKeyRouterConfig(keyFile);
  }
  return startLocalSluice({ subnet: opts.subnet, files, dataplaneArgs: opts.dataplaneArgs, timeScale: opts.timeScale });
}

/** A small completion request body. */
export function completionBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: MODEL, prompt: 'San Francisco is a', max_tokens: 4, ...extra });
}
