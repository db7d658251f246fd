/**
 * The http / lmcache prefill/decode protocol end to end over HTTP: the router sends the original
 * body to a prefill pod, waits for its answer, then sends the original body to a decode pod of the
 * same group, which loads the prompt's blocks from the group's LMCache store instead of
 * prefilling them. Also the store itself (LRU, bounded).
 */
import { LmcacheStore } from './lmcache-store';
import { parseSamples } from './prom-lint';
import { startEngineSim, type EngineSimHandle, type SimPod } from './simulator';
import { get, postJson } from './test-helpers';

const MODEL = 'sim/lmcache-7b';
const PROMPT = Array.from({ length: 2000 }, (_, i) => 11_000 + i);

const metric = async (pod: SimPod, name: string, labels: Record<string, string> = {}): Promise<number | undefined> =>
  parseSamples((await get(`${pod.url}/metrics`)).text).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('LMCache (http) prefill -> decode', () => {
  let sim: EngineSimHandle;
  let prefill: SimPod;
  let decode: SimPod;
  let otherDecode: SimPod;
  let loneDecode: SimPod;

  beforeAll(async () => {
    sim = await startEngineSim({
      pods: [
        { name: 'lp-g1', ip: '127.0.63.1', port: 0, model: MODEL, role: 'prefill', group: 'g1' },
        { name: 'ld-g1', ip: '127.0.63.2', port: 0, model: MODEL, role: 'decode', group: 'g1' },
        { name: 'ld-g2', ip: '127.0.63.3', port: 0, model: MODEL, role: 'decode', group: 'g2' },
        { name: 'ld-none', ip: '127.0.63.4', port: 0, model: MODEL, role: 'decode' },
      ],
      timeScale: 20,
    });
    [prefill, decode, otherDecode, loneDecode] = sim.pods;
  });
  afterAll(() => sim.close());

  it('the decode pod of the group loads the prompt from the store: TTFT far below a local prefill', async () => {
    const body = { model: MODEL, prompt: PROMPT, max_tokens: 10, ignore_eos: true };
    const p = await postJson(`${prefill.url}/v1/completions`, body);
    expect(p.status).toBe(200);
    expect(p.json.usage.completion_tokens).toBe(1); // a prefill pod stops after the prefill
    expect(await metric(prefill, 'sim_kv_transfers_total', { direction: 'sent', protocol: 'lmcache' })).toBe(1);

    const d = await postJson(`${decode.url}/v1/completions`, body);
    const local = await postJson(`${otherDecode.url}/v1/completions`, body);
    expect([d.status, local.status]).toEqual([200, 200]);
    expect(d.json.usage.completion_tokens).toBe(10);
    // 1984 tokens (124 full blocks; the last prompt token is always computed) come from the store.
    expect(d.json.sim).toMatchObject({ kv_protocol: 'lmcache', kv_transfer_tokens: 1984, prefix_cache_hit_tokens: 0 });
    expect(d.json.sim.ttft_ms).toBeCloseTo(10 + 16 * 0.15 + 1984 * 0.002, 3);
    // Group g2's store is empty: a full local prefill.
    expect(local.json.sim).toMatchObject({ kv_protocol: null, kv_transfer_tokens: 0 });
    expect(local.json.sim.ttft_ms).toBeCloseTo(10 + 2000 * 0.15, 3);
    expect(d.json.sim.ttft_ms).toBeLessThan(local.json.sim.ttft_ms / 10);

    expect(await metric(decode, 'sim_kv_transfers_total', { direction: 'received', protocol: 'lmcache' })).toBe(1);
    expect(await metric(decode, 'sim_local_prefills_total')).toBe(0);
    expect(await metric(otherDecode, 'sim_local_prefills_total')).toBe(1);
  });

  it('pods without a group take no part', async () => {
    const body = { model: MODEL, prompt: PROMPT.map((t) => t + 5), max_tokens: 2 };
    expect((await postJson(`${prefill.url}/v1/completions`, body)).status).toBe(200);
    const d = await postJson(`${loneDecode.url}/v1/completions`, body);
    expect(d.json.sim.kv_transfer_tokens).toBe(0);
    expect(await metric(loneDecode, 'sim_local_prefills_total')).toBe(1);
  });

  it('a request whose blocks the decode pod holds itself loads nothing', async () => {
    const body = { model: MODEL, prompt: PROMPT, max_tokens: 2 };
    // The first test left the prompt in ld-g1's own prefix cache.
    const d = await postJson(`${decode.url}/v1/completions`, body);
    expect(d.json.sim).toMatchObject({ prefix_cache_hit_tokens: 1984, kv_transfer_tokens: 0 });
  });
});

describe('LmcacheStore', () => {
  it('counts leading hits only', () => {
    const s = new LmcacheStore(10);
    expect(s.publish(['a', 'b', 'c'])).toBe(3);
    expect(s.publish(['a', 'b'])).toBe(0);
    expect(s.lookup(['a', 'b', 'c', 'd'])).toBe(3);
    expect(s.lookup(['x', 'a'])).toBe(0);
  });

  it('keeps the most recently used blocks within its capacity', () => {
    const s = new LmcacheStore(3);
    s.publish(['a', 'b', 'c']);
    s.lookup(['a']); // a becomes the most recent
    s.publish(['d']); // evicts b, the least recent
    expect(s.size).toBe(3);
    expect(s.evictions).toBe(1);
    expect(s.lookup(['a'])).toBe(1);
    expect(s.lookup(['b'])).toBe(0);
    expect(s.lookup(['c'])).toBe(1);
  });
});
