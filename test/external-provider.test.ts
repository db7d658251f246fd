/**
 * ExternalModelProvider end to end: Kthena's YAML (a Secret, a provider, routes naming it) in the
 * operator's folder, one data plane, and the engine simulator playing the provider over HTTPS with
 * an API key (vLLM's --api-key and --ssl-*). The client is the `openai` npm package.
 *
 * What must hold: the provider's key (and only it) reaches the provider, the client's key never
 * does; the model is renamed; streams pass through; a provider error passes through unchanged;
 * certificates are verified unless the provider opts out; a missing Secret is a 503 and a status
 * condition; the key is never in the snapshot, its durable copy, the dumps or the logs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { request } from 'undici';
import { startEngineSim, type EngineSimHandle } from '../hack/engine-sim/simulator';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { stopAll } from './helpers/processes';
import { testsNeeding } from './helpers/requirements';
import { createTestCert, type TestCert } from './helpers/tls';

const { describe, it, beforeAll, afterAll } = testsNeeding('openssl');

const NET = 83;
const PROVIDER_IP = `127.${NET}.0.100`;
const PROVIDER_KEY = 'sk-provider-7f3a9c1e55d0';
const CLIENT_KEY = 'sk-client-not-for-providers';

const secret = (value: string) => `apiVersion: v1
kind: Secret
metadata: {name: deepseek-api-key}
type: Opaque
stringData:
  apiKey: "${value}"
`;

const objects = (port: number) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ExternalModelProvider
metadata: {name: deepseek-provider}
spec:
  providerType: OpenAI
  model: deepseek-chat
  baseURL: https://${PROVIDER_IP}:${port}/v1
  headers: {OpenAI-Organization: org-sluice}
  auth:
    secretRef: {name: deepseek-api-key, key: apiKey}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ExternalModelProvider
metadata: {name: unverified}
spec:
  model: deepseek-chat
  baseURL: https://${PROVIDER_IP}:${port}/v1
  insecureSkipVerify: true
  auth:
    secretRef: {name: deepseek-api-key, key: apiKey}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ExternalModelProvider
metadata: {name: no-secret}
spec:
  baseURL: https://${PROVIDER_IP}:${port}/v1
  auth:
    secretRef: {name: missing-secret, key: apiKey}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: deepseek-route}
spec:
  modelName: deepseek
  rules:
  - name: default
    targetModels:
    - externalModelProviderName: deepseek-provider
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: unverified-route}
spec:
  modelName: deepseek-unverified
  rules:
  - targetModels: [{externalModelProviderName: unverified}]
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: no-secret-route}
spec:
  modelName: no-secret
  rules:
  - targetModels: [{externalModelProviderName: no-secret}]
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: qwen-local}
spec:
  model: qwen-local
  inferenceEngine: vLLM
  workloadSelector: {matchLabels: {app: qwen}}
  workloadPort: {port: 8000}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: hybrid}
spec:
  modelName: hybrid
  rules:
  - name: split
    targetModels:
    - {modelServerName: qwen-local, weight: 50}
    - {externalModelProviderName: deepseek-provider, weight: 50}
---
apiVersion: v1
kind: Pod
metadata: {name: qwen-0, labels: {app: qwen}}
status:
  phase: Running
  podIP: 127.${NET}.0.1
  conditions: [{type: Ready, status: "True"}]
`;

describe('ExternalModelProvider targets', () => {
  let cert: TestCert;
  let provider: EngineSimHandle;
  let sluice: LocalSluice;
  let client: OpenAI;

  beforeAll(async () => {
    cert = await createTestCert({ ca: true, ips: [PROVIDER_IP] });
    provider = await startEngineSim({
      timeScale: 50,
      pods: [{ name: 'deepseek', ip: PROVIDER_IP, port: 0, model: 'deepseek-chat', apiKey: PROVIDER_KEY, sslKeyfile: cert.keyFile, sslCertfile: cert.certFile }],
    });
    sluice = await startLocalSluice({
      subnet: NET,
      timeScale: 50,
      files: { 'objects.yaml': objects(provider.pods[0]!.port), 'secret.yaml': secret(PROVIDER_KEY) },
      // The provider's certificate is signed by a private CA: the data plane is given it as
      // users give theirs, through Node's NODE_EXTRA_CA_CERTS.
      dataplaneEnv: { NODE_EXTRA_CA_CERTS: cert.caFile },
    });
    client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 10_000 });
  });

  afterAll(async () => {
    await stopAll();
    await provider?.close();
    sluice?.cleanup();
    cert?.cleanup();
  });

  it('sends a chat completion to the provider with its key and model, not the client\'s', async () => {
    const r = await client.chat.completions.create({ model: 'deepseek', messages: [{ role: 'user', content: 'hello' }], max_tokens: 6 });
    // The simulator answers 401 to any other key and 404 to any other model: this answer proves both.
    expect(r.model).toBe('deepseek-chat');
    expect(r.choices[0]!.message.content).toBeTruthy();
    expect(r.usage?.completion_tokens).toBe(6);
  });

  it('streams through, usage included', async () => {
    const stream = await client.completions.create({ model: 'deepseek', prompt: 'tell me a story', max_tokens: 12, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBe(12);
  });

  it('splits a rule between pods and the provider by weight', async () => {
    const models: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await client.completions.create({ model: 'hybrid', prompt: 'x', max_tokens: 1 });
      models.push(r.model);
    }
    expect(models.filter((m) => m === 'deepseek-chat')).toHaveLength(5);
    expect(models.filter((m) => m === 'qwen-local')).toHaveLength(5);
  });

  it('refuses an untrusted certificate unless the provider sets insecureSkipVerify', async () => {
    // Without NODE_EXTRA_CA_CERTS the same CA is unknown: a second data plane shows it.
    const other = await startLocalSluice({ subnet: NET + 1, timeScale: 50, files: { 'objects.yaml': objects(provider.pods[0]!.port).replaceAll(`127.${NET}.0.1\n`, `127.${NET + 1}.0.1\n`), 'secret.yaml': secret(PROVIDER_KEY) } });
    try {
      const send = (model: string) => request(`${other.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, prompt: 'x', max_tokens: 2 }) });
      const refused = await send('deepseek');
      expect(refused.statusCode).toBe(502);
      const body = (await refused.body.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('SLUICE_UPSTREAM_ERROR');
      expect(body.error.message).toMatch(/ExternalModelProvider default\/deepseek-provider .*UNABLE_TO_VERIFY_LEAF_SIGNATURE.*NODE_EXTRA_CA_CERTS.*insecureSkipVerify/);
      const skipped = await send('deepseek-unverified');
      expect(skipped.statusCode).toBe(200);
      await skipped.body.dump();
    } finally {
      other.cleanup();
    }
  });

  it('answers 503 for a provider whose Secret is missing, and says so in its status', async () => {
    const r = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'no-secret', prompt: 'x', max_tokens: 2 }) });
    expect(r.statusCode).toBe(503);
    const body = (await r.body.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code: 'SLUICE_PROVIDER_UNAVAILABLE', message: expect.stringMatching(/Secret missing-secret in namespace default not found/) });
    const status = await sluice.status();
    const conds = status.objects['ExternalModelProvider/default/no-secret']!.conditions;
    expect(conds.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialNotFound' });
    expect(status.objects['ExternalModelProvider/default/deepseek-provider']!.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
  });

  it('never shows the key: not in the snapshot, its durable copy, the dumps or the logs', async () => {
    const auth = { authorization: `Bearer ${sluice.token}` };
    for (const path of ['/v1/snapshot?full=1', '/debug/config_dump/providers', '/debug/config_dump/modelroutes']) {
      const r = await request(`${sluice.adminUrl}${path}`, { headers: auth });
      const text = await r.body.text();
      expect(r.statusCode).toBe(200);
      expect(text).not.toContain(PROVIDER_KEY);
    }
    const dump = await request(`${sluice.adminUrl}/debug/config_dump/providers`, { headers: auth });
    const providers = ((await dump.body.json()) as { providers: { key: string; credential?: { held: boolean } }[] }).providers;
    expect(providers.find((p) => p.key === 'default/deepseek-provider')!.credential).toMatchObject({ secret: 'default/deepseek-api-key', key: 'apiKey', held: true });
    const durable = readFileSync(join(sluice.dir, '..', 'snapshot.json'), 'utf8');
    expect(durable).toContain('deepseek-provider');
    expect(durable).not.toContain(PROVIDER_KEY);
    expect(sluice.operator.output()).not.toContain(PROVIDER_KEY);
    expect(sluice.dataplane.output()).not.toContain(PROVIDER_KEY);
  });

  it('passes a provider error through unchanged, and follows a rotated key', async () => {
    let v = await sluice.servingVersion();
    writeFileSync(join(sluice.dir, 'secret.yaml'), secret('sk-revoked'));
    v = await sluice.waitForVersionAbove(v);
    const r = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'deepseek', prompt: 'x', max_tokens: 2 }) });
    // The provider's own 401 and body (vLLM's), not a Sluice error: the client sees what the provider said.
    expect(r.statusCode).toBe(401);
    expect(await r.body.json()).toEqual({ error: 'Unauthorized' });
    writeFileSync(join(sluice.dir, 'secret.yaml'), secret(PROVIDER_KEY));
    await sluice.waitForVersionAbove(v);
    const ok = await client.completions.create({ model: 'deepseek', prompt: 'x', max_tokens: 2 });
    expect(ok.model).toBe('deepseek-chat');
  });
});
