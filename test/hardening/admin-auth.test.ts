/**
 * Issue 11, risks 1 and 2: the full snapshot and every debug dump were open to whoever reached
 * the admin port, the admin listener accepted only `Bearer` spelt exactly so, and `GET /v1/models`
 * listed every model and adapter to anonymous callers with auth on. Now dumps need the read or
 * the push token (any case of `Bearer`), a read token cannot push, probes and metrics stay open,
 * a data plane without a push token says so once at start, and `/v1/models` follows auth unless
 * the router configuration opens it. Real processes on loopback.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import type { LocalSluice } from '../helpers/cluster';
import { startNode, stopAll, waitFor } from '../helpers/processes';
import { TEST_KEY, startQuickstartSluice } from './support';

const SUBNET = 67;
const READ_TOKEN = 'read-token-4b1e9d';
const DUMPS = ['modelroutes', 'modelservers', 'pods', 'scheduler', 'auth', 'queues', 'kvevents'];
let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startQuickstartSluice({ subnet: SUBNET, auth: true, dataplaneArgs: ['--read-token', READ_TOKEN] });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

async function get(url: string, authorization?: string): Promise<{ status: number; headers: Record<string, unknown>; json: any }> {
  const res = await request(url, { headers: authorization ? { authorization } : {} });
  const text = await res.body.text();
  let json: unknown = null;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.statusCode, headers: res.headers, json };
}

describe('admin listener', () => {
  it.each([
    ['no header', undefined],
    ['a wrong token', 'Bearer nope'],
    ['the read token under another scheme', `Basic ${READ_TOKEN}`],
  ])('refuses the full snapshot and every dump with %s: coded 401 with a Bearer challenge', async (_what, authorization) => {
    for (const path of ['/v1/snapshot?full=1', ...DUMPS.map((d) => `/debug/config_dump/${d}`)]) {
      const r = await get(`${sluice.adminUrl}${path}`, authorization);
      expect([path, r.status, r.json.error?.code, r.json.error?.type]).toEqual([path, 401, 'SLUICE_UNAUTHORIZED', 'authentication_error']);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="sluice-admin"');
    }
  });

  it.each([
    ['the read token', `Bearer ${READ_TOKEN}`],
    ['the read token, lower-case scheme', `bearer ${READ_TOKEN}`],
    ['the push token, upper-case scheme', 'BEARER test-token'],
  ])('serves the full snapshot and every dump with %s', async (_what, authorization) => {
    const full = await get(`${sluice.adminUrl}/v1/snapshot?full=1`, authorization);
    expect(full.status).toBe(200);
    expect(full.json.routes.map((r: { key: string }) => r.key)).toContain('default/deepseek-simple');
    for (const d of DUMPS) {
      const r = await get(`${sluice.adminUrl}/debug/config_dump/${d}`, authorization);
      expect([d, r.status, typeof r.json.version]).toEqual([d, 200, 'number']);
    }
  });

  it('keeps the version answer, /metrics and /healthz open, and the version answer without content', async () => {
    const plain = await get(`${sluice.adminUrl}/v1/snapshot`);
    expect(plain.status).toBe(200);
    expect(Object.keys(plain.json).sort()).toEqual(['credentialsMissing', 'generatedAt', 'hash', 'version']);
    expect((await get(`${sluice.adminUrl}/metrics`)).status).toBe(200);
    expect((await get(`${sluice.adminUrl}/healthz`)).status).toBe(200);
  });

  it('lets the read token read but not push; the push token in any case of Bearer pushes', async () => {
    const put = async (authorization: string) => {
      const res = await request(`${sluice.adminUrl}/v1/snapshot`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization }, body: '{}' });
      return { status: res.statusCode, code: ((await res.body.json()) as { error: { code: string } }).error.code };
    };
    expect(await put(`Bearer ${READ_TOKEN}`)).toEqual({ status: 401, code: 'SLUICE_UNAUTHORIZED' });
    // Authorised, then refused for what it is: an empty object is no snapshot.
    expect(await put('bEaReR test-token')).toEqual({ status: 400, code: 'SLUICE_SNAPSHOT_INVALID' });
  });
});

describe('a data plane started without a push token', () => {
  it('warns once, before it reports listening, and leaves the dumps open; one with a token does not warn', async () => {
    const args = ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--access-log', 'false'];
    const bare = await startNode('dataplane/main.js', args, /"adminPort":(\d+)/);
    const withToken = await startNode('dataplane/main.js', [...args, '--push-token', 'x-token'], /"adminPort":(\d+)/);
    // The logger is buffered: wait for the listening line, which is written after the warning.
    const upTo = async (p: typeof bare) => {
      const out = await waitFor('the listening log line', () => (p.proc.output().includes('data plane listening') ? p.proc.output() : ''));
      return out.slice(0, out.indexOf('data plane listening'));
    };
    expect((await upTo(bare)).match(/no push token/g)).toHaveLength(1);
    expect(await upTo(withToken)).not.toMatch(/no push token/);
    // No snapshot yet: answered (503), not refused (401).
    const open = await get(`http://127.0.0.1:${bare.match[1]}/debug/config_dump/auth`);
    expect([open.status, open.json.error.code]).toEqual([503, 'SLUICE_NOT_READY']);
    const closed = await get(`http://127.0.0.1:${withToken.match[1]}/debug/config_dump/auth`);
    expect([closed.status, closed.json.error.code]).toEqual([401, 'SLUICE_UNAUTHORIZED']);
  });
});

describe('GET /v1/models (and its alias /models) with auth on', () => {
  it('needs a credential by default, and none once auth.publicModelList is true', async () => {
    const models = `${sluice.url}/v1/models`;
    const alias = `${sluice.url}/models`;
    for (const url of [models, alias]) {
      const anonymous = await get(url);
      expect([url, anonymous.status, anonymous.json.error.code]).toEqual([url, 401, 'SLUICE_AUTH_REQUIRED']);
      const wrong = await get(url, 'Bearer sk-not-a-key');
      expect([url, wrong.status, wrong.json.error.code]).toEqual([url, 401, 'SLUICE_AUTH_INVALID']);
    }
    const keyed = await get(models, `Bearer ${TEST_KEY}`);
    expect(keyed.status).toBe(200);
    expect(keyed.json.data.map((m: { id: string }) => m.id)).toContain('deepseek-simple');
    // The alias serves the very same list.
    const keyedAlias = await get(alias, `Bearer ${TEST_KEY}`);
    expect([keyedAlias.status, keyedAlias.json]).toEqual([200, keyed.json]);

    const file = join(sluice.dir, 'router-config.yaml');
    const before = await sluice.servingVersion();
    writeFileSync(file, readFileSync(file, 'utf8').replace('    auth:\n', '    auth:\n      publicModelList: true\n'));
    await sluice.waitForVersionAbove(before);
    const open = await get(models);
    expect(open.status).toBe(200);
    expect(open.json.data.map((m: { id: string }) => m.id)).toContain('deepseek-simple');
    const openAlias = await get(alias);
    expect([openAlias.status, openAlias.json]).toEqual([200, open.json]);
    // Only the list opened: inference still needs the key.
    const res = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'deepseek-simple', prompt: 'x', max_tokens: 1 }) });
    expect(res.statusCode).toBe(401);
    await res.body.dump();
  });
});
