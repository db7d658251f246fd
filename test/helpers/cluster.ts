/**
 * A whole local Sluice for tests: a folder of YAML, the engine simulator playing its Pods, one
 * data plane and the directory-source operator pushing to it. Pod IPs are rewritten into a
 * loopback range private to the test file, so test files can run in parallel.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { DirectorySource } from '../../operator/sources/directory-source';
import { simPodsFor, simTokenizerFor } from '../../hack/sim-pods';
import { startNode, tempDir, waitFor, type Proc, ROOT } from './processes';

/** Handles to a running local Sluice. */
export interface LocalSluice {
  dir: string;
  url: string;
  adminUrl: string;
  /** Every data-plane replica's traffic and admin URLs (the first is `url`/`adminUrl`). */
  urls: string[];
  adminUrls: string[];
  dataplanes: Proc[];
  token: string;
  sim: Proc;
  dataplane: Proc;
  operator: Proc;
  /** Version the data plane serves now. */
  servingVersion(): Promise<number>;
  /** Waits until the data plane serves a version above `v`. */
  waitForVersionAbove(v: number): Promise<number>;
  /** Reads the operator's status file. */
  status(): Promise<{ issues: { file: string; object: string; path: string; message: string }[]; objects: Record<string, { conditions: { type: string; status: string; reason: string; message: string }[] }> }>;
  cleanup(): void;
}

/** Options for a local Sluice. */
export interface LocalOptions {
  /** Files to place in the watched folder: name → YAML text. */
  files: Record<string, string>;
  /** Second octet of the 127.x.0.0/16 range this test file owns. */
  subnet: number;
  /** Extra data-plane flags. */
  dataplaneArgs?: string[];
  /** Extra data-plane environment (NODE_EXTRA_CA_CERTS, say). */
  dataplaneEnv?: Record<string, string>;
  /** Simulator time scale. */
  timeScale?: number;
  /** Data-plane replicas, all pushed to by the one operator (default 1). */
  replicas?: number;
}

/** Reads a quickstart example file. */
export function example(name: string): string {
  return readFileSync(join(ROOT, 'manifests', 'examples', 'quickstart', name), 'utf8');
}

/** Moves quickstart pod IPs 127.0.0.N into 127.<subnet>.0.N. */
export function relocatePods(yaml: string, subnet: number): string {
  return yaml.replace(/podIP: 127\.0\.0\.(\d+)/g, `podIP: 127.${subnet}.0.$1`);
}

/** Starts everything and waits for the first snapshot to serve. */
export async function startLocalSluice(opts: LocalOptions): Promise<LocalSluice> {
  const tmp = tempDir('local');
  const dir = join(tmp.dir, 'objects');
  mkdirSync(dir);
  for (const [name, text] of Object.entries(opts.files)) writeFileSync(join(dir, name), text);
  const objects = new DirectorySource(dir).load().objects;
  const pods = simPodsFor(objects);
  const simConfig = join(tmp.dir, 'sim.json');
  writeFileSync(simConfig, JSON.stringify({ pods, timeScale: opts.timeScale ?? 50, tokenizer: simTokenizerFor(objects) }));
  // An API key in the developer's environment would lock every simulated pod (as vLLM's VLLM_API_KEY does).
  const { proc: sim } = await startNode('hack/engine-sim/main.js', ['--config', simConfig], /engine-sim ready/, undefined, { VLLM_API_KEY: '' });
  const token = 'test-token';
  const dataplanes: Proc[] = [];
  const urls: string[] = [];
  const adminUrls: string[] = [];
  for (let i = 0; i < (opts.replicas ?? 1); i++) {
    const { proc, match } = await startNode('dataplane/main.js', ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--push-token', token, ...(opts.dataplaneArgs ?? [])],
      /"trafficPort":(\d+),"adminPort":(\d+)/, undefined, opts.dataplaneEnv);
    dataplanes.push(proc);
    urls.push(`http://127.0.0.1:${match[1]}`);
    adminUrls.push(`http://127.0.0.1:${match[2]}`);
  }
  const dataplane = dataplanes[0]!;
  const url = urls[0]!;
  const adminUrl = adminUrls[0]!;
  const statusFile = join(tmp.dir, 'status.json');
  const { proc: operator } = await startNode('operator/main.js', ['--watch-dir', dir, '--snapshot-out', join(tmp.dir, 'snapshot.json'), '--status-out', statusFile, ...adminUrls.flatMap((u) => ['--push-url', u]), '--push-token', token, '--debounce-ms', '50'],
    /snapshot compiled/);
  const versionOf = async (admin: string) => {
    const res = await request(`${admin}/v1/snapshot`);
    if (res.statusCode !== 200) {
      await res.body.dump();
      return 0;
    }
    return ((await res.body.json()) as { version: number }).version;
  };
  // The lowest version any replica serves: a change is live once every replica has it.
  const servingVersion = async () => Math.min(...(await Promise.all(adminUrls.map(versionOf))));
  await waitFor('first snapshot served', servingVersion);
  return {
    dir,
    url,
    adminUrl,
    urls,
    adminUrls,
    dataplanes,
    token,
    sim,
    dataplane,
    operator,
    servingVersion,
    waitForVersionAbove: (v) => waitFor(`snapshot version above ${v}`, async () => {
      const now = await servingVersion();
      return now > v ? now : 0;
    }),
    status: async () => JSON.parse(readFileSync(statusFile, 'utf8')),
    cleanup: tmp.cleanup,
  };
}
