/**
 * Routing changes live: a YAML edit reroutes traffic without a restart; an invalid file is
 * reported with file, object and field while the last valid objects keep serving; a refused
 * snapshot leaves routing unchanged; a restarted data plane serves from the snapshot file.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { example, relocatePods, startLocalSluice, type LocalSluice } from './helpers/cluster';
import { startNode, stopAll, waitFor } from './helpers/processes';

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: 23,
    files: {
      'modelroute-simple.yaml': example('modelroute-simple.yaml'),
      'modelroute-subset.yaml': example('modelroute-subset.yaml'),
      'modelservers.yaml': example('modelservers.yaml'),
      'pods.yaml': relocatePods(example('pods.yaml'), 23),
    },
  });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

async function servedModel(model: string): Promise<{ status: number; model: string }> {
  const res = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, prompt: 'hi', max_tokens: 1 }) });
  await res.body.dump();
  return { status: res.statusCode, model: String(res.headers['x-sim-model']) };
}

async function putSnapshot(body: string, token = sluice.token) {
  const res = await request(`${sluice.adminUrl}/v1/snapshot`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
  return { status: res.statusCode, json: (await res.body.json()) as { error?: { code: string; message: string; issues?: { path: string }[] } } };
}

async function fullSnapshot(): Promise<Record<string, unknown>> {
  return (await (await request(`${sluice.adminUrl}/v1/snapshot?full=1`, { headers: { authorization: `Bearer ${sluice.token}` } })).body.json()) as Record<string, unknown>;
}

describe('live changes', () => {
  it('a YAML edit reroutes traffic without a restart', async () => {
    expect((await servedModel('deepseek-simple')).model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B');
    const v = await sluice.servingVersion();
    const file = join(sluice.dir, 'modelroute-simple.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('modelServerName: "deepseek-r1-1-5b"', 'modelServerName: "deepseek-r1-7b"'));
    await sluice.waitForVersionAbove(v);
    expect((await servedModel('deepseek-simple')).model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-7B');
  });

  it('an invalid edit is reported with file, object and field, and the last valid route keeps serving', async () => {
    const file = join(sluice.dir, 'modelroute-subset.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('weight: 70', 'weight: 700'));
    const issue = await waitFor('the status file to report the bad weight', async () =>
      (await sluice.status()).issues.find((i) => i.file === 'modelroute-subset.yaml' && i.path === 'spec.rules[0].targetModels[0].weight'));
    expect(issue.object).toBe('ModelRoute default/deepseek-subset');
    expect(issue.message).toMatch(/at most 100 \(got number 700\)/);
    const served = [];
    for (let i = 0; i < 10; i++) served.push((await servedModel('deepseek-subset')).model);
    expect(served.filter((m) => m.endsWith('-v1'))).toHaveLength(7);
  });

  it('deleting a route file removes the route', async () => {
    const v = await sluice.servingVersion();
    unlinkSync(join(sluice.dir, 'modelroute-subset.yaml'));
    await sluice.waitForVersionAbove(v);
    expect((await servedModel('deepseek-subset')).status).toBe(404);
  });

  it('refuses an invalid snapshot with 400 and every problem, and routing is unchanged', async () => {
    const before = await fullSnapshot();
    const bad = JSON.parse(JSON.stringify(before)) as { version: number; routes: { rules: { targets: { weight: number }[] }[] }[]; servers: unknown };
    bad.version += 1;
    bad.routes[0]!.rules[0]!.targets[0]!.weight = 1000;
    delete (bad as { servers?: unknown }).servers;
    const r = await putSnapshot(JSON.stringify(bad));
    expect(r.status).toBe(400);
    expect(r.json.error!.code).toBe('SLUICE_SNAPSHOT_INVALID');
    const paths = r.json.error!.issues!.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['routes[0].rules[0].targets[0].weight', 'servers']));
    expect(await fullSnapshot()).toEqual(before);
    expect((await servedModel('deepseek-simple')).model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-7B');
  });

  it('refuses a tampered snapshot (hash mismatch), a stale version, and a wrong token', async () => {
    const before = await fullSnapshot();
    const tampered = { ...before, version: (before.version as number) + 1, generatedAt: 'x', routes: [] };
    const t = await putSnapshot(JSON.stringify(tampered));
    expect(t.status).toBe(400);
    expect(t.json.error!.message).toMatch(/hash/);
    const stale = await putSnapshot(JSON.stringify({ ...before, version: 1 }));
    expect(stale.status).toBe(409);
    expect(stale.json.error!.code).toBe('SLUICE_SNAPSHOT_STALE');
    const unauth = await putSnapshot(JSON.stringify(before), 'wrong');
    expect(unauth.status).toBe(401);
    expect(await fullSnapshot()).toEqual(before);
  });

  it('a data plane restarted with the operator gone serves the published snapshot file', async () => {
    await sluice.operator.stop();
    const snapshotFile = join(sluice.dir, '..', 'snapshot.json');
    const { match } = await startNode('dataplane/main.js', ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--snapshot-file', snapshotFile], /"trafficPort":(\d+)/);
    const res = await request(`http://127.0.0.1:${match[1]}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'deepseek-simple', prompt: 'hi', max_tokens: 1 }) });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-sim-model']).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-7B');
  });
});
