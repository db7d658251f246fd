/**
 * The operator's folder source, as editors and tools change it. Defect 9: Node's recursive
 * fs.watch followed inodes, so after files were replaced by rename (atomic saves, git checkout,
 * ConfigMap volumes) the first version stayed. Defect 8: a YAML alias bomb in the folder froze the
 * operator at 2.2 GiB RSS. Both through the real operator and data plane.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { example, type LocalSluice } from '../helpers/cluster';
import { stopAll, waitFor } from '../helpers/processes';
import { startQuickstartSluice } from './support';

const run = promisify(execFile);
const SUBNET = 63;
let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startQuickstartSluice({ subnet: SUBNET });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

async function servedModels(): Promise<string[]> {
  const res = await request(`${sluice.url}/v1/models`);
  return ((await res.body.json()) as { data: { id: string }[] }).data.map((m) => m.id);
}

/** Writes the simple route under another model name to a hidden file, then `mv`s it over the route file. */
async function mvRoute(model: string): Promise<void> {
  const tmp = join(sluice.dir, `.route-${model}.tmp`);
  writeFileSync(tmp, example('modelroute-simple.yaml').replace(/modelName: .*/, `modelName: ${model}`));
  await run('mv', [tmp, join(sluice.dir, 'modelroute-simple.yaml')]);
}

/** Resident memory of a process, from /proc (Linux), in MiB. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/**
 * 9 levels of 9 aliases (9^9 values once expanded) in a Pod's spec, which the schema leaves
 * open: the folder source used to hash the spec with JSON.stringify, expanding it all.
 */
function aliasBombPod(): string {
  const lines = ['apiVersion: v1', 'kind: Pod', 'metadata: {name: bomb, namespace: default}', 'spec:', '  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= 9; i++) lines.push(`  a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}

describe('folder source', () => {
  it('follows a file replaced by mv three times in a row', async () => {
    for (const model of ['renamed-one', 'renamed-two', 'renamed-three']) {
      await mvRoute(model);
      await waitFor(`model ${model} served`, async () => (await servedModels()).includes(model), 10_000);
    }
    const models = await servedModels();
    expect(models).toContain('renamed-three');
    expect(models).not.toContain('renamed-one');
    expect(models).not.toContain('deepseek-simple');
  });

  it('refuses a YAML alias bomb naming the file, stays small and keeps following changes', async () => {
    const pid = sluice.operator.child.pid!;
    const before = rssMiB(pid);
    writeFileSync(join(sluice.dir, 'bomb.yaml'), aliasBombPod());
    const issue = await waitFor('the bomb reported', async () => (await sluice.status()).issues.find((i) => i.file === 'bomb.yaml'), 10_000);
    expect(issue.message).toMatch(/more than \d+ (values|times)/);
    expect(rssMiB(pid) - before).toBeLessThan(100);
    await mvRoute('after-the-bomb');
    await waitFor('a change after the bomb served', async () => (await servedModels()).includes('after-the-bomb'), 10_000);
  });
});
