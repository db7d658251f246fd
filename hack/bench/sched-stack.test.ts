import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { parseKvEventsAnnotations, parseTokenizerAnnotation } from '../../shared/config/kv-events-annotations';
import type { Issue } from '../../shared/api/validate';
import { defaultTokenizerDir, KV_EVENTS_PORT, KV_EVENTS_REPLAY_PORT, parseSimTokenizer, type SimTokenizer } from './sched-kv-events';
import { kvSubscriptions, schedulingObjectsYaml, simConfigJson, waitForLiveKvEvents } from './sched-stack';

const pods = { podIps: ['127.0.0.71', '127.0.0.72', '127.0.0.73'], podPort: 8000, model: 'm' };
const tokenizers: { name: string; t: SimTokenizer; want: string }[] = [
  { name: 'Qwen3 tokenizer', t: { kind: 'hf', dir: defaultTokenizerDir() }, want: defaultTokenizerDir() },
  { name: 'stand-in', t: { kind: 'stand-in' }, want: 'engine' },
];

describe('scheduling stack objects', () => {
  it.each(tokenizers)('$name: the ModelServer annotations pass the operator\'s checks and name the same tokenizer', ({ t, want }) => {
    const docs = loadAll(schedulingObjectsYaml({ ...pods, simTokenizer: t })) as { kind: string; metadata: { annotations?: Record<string, string> } }[];
    expect(docs.filter((d) => d.kind === 'Pod')).toHaveLength(3);
    const annotations = docs.find((d) => d.kind === 'ModelServer')!.metadata.annotations!;
    const issues: Issue[] = [];
    expect(parseKvEventsAnnotations(annotations, issues)).toEqual({ port: KV_EVENTS_PORT, replayPort: KV_EVENTS_REPLAY_PORT, topic: '' });
    const tok = parseTokenizerAnnotation(annotations, issues);
    expect(issues).toEqual([]);
    expect(tok.kind === 'file' ? tok.path : tok.kind).toBe(want);
  });

  it.each(tokenizers)('$name: every simulated pod publishes KV events; the simulator gets the tokenizer', ({ t }) => {
    const cfg = JSON.parse(simConfigJson({ ...pods, simTokenizer: t }, 5, { blockSize: 128 })) as { pods: { ip: string; kvEvents: unknown }[]; tokenizer?: string; timeScale: number };
    expect(cfg.pods.map((p) => p.kvEvents)).toEqual(pods.podIps.map(() => ({ port: 5557, replayPort: 5558 })));
    expect(cfg.tokenizer).toBe(t.kind === 'hf' ? t.dir : undefined);
    expect(cfg.timeScale).toBe(5);
  });
});

describe('parseSimTokenizer', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sim-tok-'));
    mkdirSync(join(dir, 'qwen'));
    writeFileSync(join(dir, 'qwen', 'tokenizer.json'), '{}');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    { name: 'stand-in', text: 'stand-in', want: { kind: 'stand-in' } },
    { name: 'a folder', text: 'qwen', want: { kind: 'hf', dir: 'qwen' } },
    { name: 'the tokenizer.json itself', text: 'qwen/tokenizer.json', want: { kind: 'hf', dir: 'qwen' } },
  ])('$name', ({ text, want }) => {
    const got = parseSimTokenizer(text, dir);
    expect(got).toEqual(want.kind === 'hf' ? { kind: 'hf', dir: join(dir, want.dir!) } : want);
  });

  it('rejects a folder without tokenizer.json', () => {
    expect(() => parseSimTokenizer('nowhere', dir)).toThrow(/no tokenizer.json/);
  });

  it('defaults to the Qwen3 tokenizer of the devDependency', () => {
    expect(parseSimTokenizer(defaultTokenizerDir())).toEqual({ kind: 'hf', dir: defaultTokenizerDir() });
  });
});

describe('KV-event subscriptions of a data plane', () => {
  // The admin dump as the data plane nests it: { version, subscriptions: { counters, index, subscriptions: [...] }, index }.
  const dump = (states: string[]) => ({
    version: 1,
    subscriptions: { counters: {}, index: {}, subscriptions: states.map((state, i) => ({ endpointId: i, address: `tcp://127.0.0.7${i + 1}:5557`, topic: '', state, counters: { batches: 2 * i, gaps: 0 } })) },
    index: {},
  });
  let server: Server;
  let admin: string;
  let states: string[][] = [];
  let calls = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const s = states[Math.min(calls++, states.length - 1)]!;
      res.writeHead(req.url === '/debug/config_dump/kvevents' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(dump(s)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    admin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));
  beforeEach(() => { calls = 0; });

  it('reads every subscription with its state and counters', async () => {
    states = [['live', 'connecting', 'stale']];
    const subs = await kvSubscriptions(admin);
    expect(subs.map((x) => [x.address, x.state, x.counters.batches])).toEqual([['tcp://127.0.0.71:5557', 'live', 0], ['tcp://127.0.0.72:5557', 'connecting', 2], ['tcp://127.0.0.73:5557', 'stale', 4]]);
  });

  it('waits until all pods are live', async () => {
    states = [['connecting', 'connecting', 'connecting'], ['live', 'connecting', 'live'], ['live', 'live', 'live']];
    await waitForLiveKvEvents(admin, 3, 5_000);
    expect(calls).toBe(3);
  });

  it.each([
    { name: 'a pod never goes live', s: ['live', 'connecting', 'live'], pods: 3 },
    { name: 'a pod has no subscription', s: ['live', 'live'], pods: 3 },
  ])('times out naming the states when $name', async ({ s, pods }) => {
    states = [s];
    await expect(waitForLiveKvEvents(admin, pods, 300)).rejects.toThrow(/live KV-event subscriptions to 3 pods.*subscriptions: \[/);
  });
});
