/**
 * SGLang's prefill/decode protocol end to end over HTTP: the router sends the prefill and the
 * decode request at the same time, both carrying bootstrap_host (the prefill pod's IP),
 * bootstrap_port 8998 and bootstrap_room.
 */
import { randomBytes } from 'node:crypto';
import { parseSamples } from './prom-lint';
import { startEngineSim, type EngineSimHandle, type SimPod } from './simulator';
import { get, postJson, sseData, waitFor } from './test-helpers';

const MODEL = 'sim/sglang-7b';
const PROMPT = Array.from({ length: 600 }, (_, i) => 3000 + i);

/** A random room in [0, 2^63) as a decimal string. */
const newRoom = (): string => (randomBytes(8).readBigUInt64BE() >> 1n).toString();

const boot = (host: string, room: string | number): Record<string, unknown> => ({ bootstrap_host: host, bootstrap_port: 8998, bootstrap_room: room });

const metric = async (pod: SimPod, name: string, labels: Record<string, string> = {}): Promise<number | undefined> =>
  parseSamples((await get(`${pod.url}/metrics`)).text).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('SGLang prefill + decode', () => {
  let sim: EngineSimHandle;
  let prefill: SimPod;
  let decode: SimPod;
  let decode2: SimPod;
  let prefill2: SimPod;
  let both: SimPod;

  beforeAll(async () => {
    const pod = (name: string, ip: string, role: 'prefill' | 'decode' | 'both', group: string) =>
      ({ name, ip, port: 0, model: MODEL, engine: 'sglang' as const, role, group });
    sim = await startEngineSim({
      pods: [
        pod('sp-g1', '127.0.62.1', 'prefill', 'g1'),
        pod('sd-g1', '127.0.62.2', 'decode', 'g1'),
        pod('sd-g2', '127.0.62.3', 'decode', 'g2'),
        pod('sp-g2', '127.0.62.4', 'prefill', 'g2'),
        pod('sb-g1', '127.0.62.5', 'both', 'g1'),
      ],
      timeScale: 10,
    });
    [prefill, decode, decode2, prefill2, both] = sim.pods;
  });
  afterAll(() => sim.close());

  it('serves a pair sent at the same time: the prefill answers one token, the decode streams without a prefill', async () => {
    const room = newRoom();
    const body = { model: MODEL, prompt: PROMPT, max_tokens: 8, ignore_eos: true, ...boot('127.0.62.1', room) };
    const [p, d] = await Promise.all([
      postJson(`${prefill.url}/v1/completions`, body),
      postJson(`${decode.url}/v1/completions`, { ...body, stream: true }),
    ]);
    expect(p.status).toBe(200);
    expect(p.json.usage.completion_tokens).toBe(1);
    expect(p.json.kv_transfer_params).toBeUndefined();
    expect(d.status).toBe(200);
    const tokens = (sseData(d.text).slice(0, -1) as Array<Record<string, any>>).filter((c) => c.choices.length > 0);
    expect(tokens).toHaveLength(8);
    const sim = tokens.at(-1)!.sim;
    expect(sim).toMatchObject({ kv_protocol: 'sglang', kv_transfer_tokens: 600 });
    expect(sim.kv_transfer_ms).toBeCloseTo(1.2, 3);
    // At least the transfer and one decode step, never a 100 ms local prefill on top of the wait.
    expect(sim.ttft_ms).toBeGreaterThanOrEqual(1.2 + 12.08 - 1e-6);
    expect(await metric(prefill, 'sim_kv_transfers_total', { direction: 'sent', protocol: 'sglang' })).toBe(1);
    expect(await metric(decode, 'sim_kv_transfers_total', { direction: 'received', protocol: 'sglang' })).toBe(1);
    expect(await metric(decode, 'sim_local_prefills_total')).toBe(0);
  });

  it('a decode that arrives first waits for the room; its TTFT includes the prefill', async () => {
    const room = newRoom();
    const body = { model: MODEL, prompt: PROMPT.map((t) => t + 1), max_tokens: 3, ignore_eos: true, ...boot('127.0.62.1', room) };
    const received = async (): Promise<number> => (await get(`${decode.url}/sim/state`)).json.counters.requestsReceived;
    const before = await received();
    const pendingDecode = postJson(`${decode.url}/v1/completions`, body);
    await waitFor(async () => (await received()) > before, 'the decode request to arrive');
    const p = await postJson(`${prefill.url}/v1/completions`, body);
    const d = await pendingDecode;
    expect(d.status).toBe(200);
    // Two pods' clocks and a timer that may fire a wall ms early (10 simulated ms): compare loosely.
    expect(d.json.sim.ttft_ms).toBeGreaterThanOrEqual(p.json.sim.ttft_ms);
    expect(d.json.sim.queue_ms).toBeGreaterThanOrEqual(p.json.sim.ttft_ms - 10);
  });

  it('reads rooms above 2^53 exactly, whether sent as a JSON number or a string', async () => {
    const room = '9223372036854775807'; // 2^63 - 1: a double would round it to 2^63
    const raw = (obj: object): string => JSON.stringify(obj).replace('"ROOM"', room);
    const body = { model: MODEL, prompt: 'a prompt for the largest room', max_tokens: 2 };
    const [p, d] = await Promise.all([
      postJson(`${prefill.url}/v1/completions`, { ...body, ...boot('127.0.62.1', room) }),
      postJson(`${decode.url}/v1/completions`, raw({ ...body, ...boot('127.0.62.1', 'ROOM') })),
    ]);
    expect([p.status, d.status]).toEqual([200, 200]);
    expect(d.json.sim.kv_protocol).toBe('sglang');
  });

  it.each([
    ['a host that is no prefill pod', () => decode, { bootstrap_host: '127.0.62.9' }, 'bootstrap_host', 'wrong_host', /bootstrap_host 127\.0\.62\.9 is not an SGLang prefill pod \(prefill pods of this pod's group: 127\.0\.62\.1, 127\.0\.62\.5\)/],
    ['the prefill pod of another group', () => decode, { bootstrap_host: '127.0.62.4' }, 'bootstrap_host', 'cross_group', /^prefill pod sp-g2 is in group g2, this decode pod sd-g1 is in group g1: KV cannot move between groups$/],
    ['port 8999 (decode)', () => decode, { bootstrap_port: 8999 }, 'bootstrap_port', 'wrong_port', /bootstrap_port must be 8998/],
    ['port 8999 (prefill)', () => prefill, { bootstrap_port: 8999 }, 'bootstrap_port', 'wrong_port', /bootstrap_port must be 8998/],
    ['a host that is not the prefill pod itself', () => prefill, { bootstrap_host: '127.0.62.4' }, 'bootstrap_host', 'wrong_host', /bootstrap_host is 127\.0\.62\.4 but this prefill pod sp-g1 is at 127\.0\.62\.1/],
    ['a negative room', () => decode, { bootstrap_room: -1 }, 'bootstrap_room', 'malformed', /bootstrap_room" must be an integer in \[0, 2\^63\)/],
    ['a room of 2^63', () => decode, { bootstrap_room: '9223372036854775808' }, 'bootstrap_room', 'malformed', /bootstrap_room/],
    ['a fractional room', () => prefill, { bootstrap_room: 1.5 }, 'bootstrap_room', 'malformed', /bootstrap_room/],
    ['no port', () => decode, { bootstrap_port: undefined }, 'bootstrap_port', 'malformed', /"bootstrap_port" must be an integer \(8998\) \(got none\)/],
    ['a pod of role both', () => both, {}, 'bootstrap_room', 'wrong_role', /has role both/],
  ])('answers 400 at once for %s', async (_name, pod, change, param, reason, message) => {
    const r = await postJson(`${pod().url}/v1/completions`, { model: MODEL, prompt: 'x', ...boot('127.0.62.1', newRoom()), ...change });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'BadRequestError', code: 400, param });
    expect(r.json.error.message).toMatch(message);
    expect(await metric(pod(), 'sim_kv_transfer_rejections_total', { reason })).toBeGreaterThan(0);
  });

  it('refuses a room used twice, by a prefill or a decode', async () => {
    const room = newRoom();
    const body = { model: MODEL, prompt: 'once only', max_tokens: 2, ...boot('127.0.62.1', Number(room.slice(0, 15))) };
    const [p, d] = await Promise.all([postJson(`${prefill.url}/v1/completions`, body), postJson(`${decode.url}/v1/completions`, body)]);
    expect([p.status, d.status]).toEqual([200, 200]);
    const again = await postJson(`${decode.url}/v1/completions`, body);
    expect(again.status).toBe(400);
    expect(again.json.error.message).toMatch(/was already used by decode pod sd-g1/);
    const prefillAgain = await postJson(`${prefill.url}/v1/completions`, body);
    expect(prefillAgain.status).toBe(400);
    expect(prefillAgain.json.error.param).toBe('bootstrap_room');
  });

  it('refuses a decode whose prompt is not the one prefilled', async () => {
    const room = newRoom();
    const [p, d] = await Promise.all([
      postJson(`${prefill.url}/v1/completions`, { model: MODEL, prompt: 'the real prompt', ...boot('127.0.62.1', room) }),
      postJson(`${decode.url}/v1/completions`, { model: MODEL, prompt: 'another prompt', ...boot('127.0.62.1', room) }),
    ]);
    expect(p.status).toBe(200);
    expect(d.status).toBe(400);
    expect(d.json.error.message).toMatch(/^the prompt differs from the one prefilled/);
  });

  it('a decode of group g2 pairs with the g2 prefill pod', async () => {
    const room = newRoom();
    const body = { model: MODEL, prompt: 'group two', max_tokens: 2, ...boot('127.0.62.4', room) };
    const [p, d] = await Promise.all([postJson(`${prefill2.url}/v1/completions`, body), postJson(`${decode2.url}/v1/completions`, body)]);
    expect([p.status, d.status]).toEqual([200, 200]);
    expect(d.json.sim.kv_protocol).toBe('sglang');
  });
});

describe('SGLang room wait', () => {
  let sim: EngineSimHandle;
  afterAll(() => sim.close());

  it('answers 400 when no prefill publishes the room within 30 simulated seconds', async () => {
    // 30 s at time scale 3000 is 10 wall ms.
    sim = await startEngineSim({
      pods: [
        { name: 'p', ip: '127.0.62.11', port: 0, model: MODEL, engine: 'sglang', role: 'prefill' },
        { name: 'd', ip: '127.0.62.12', port: 0, model: MODEL, engine: 'sglang', role: 'decode' },
      ],
      timeScale: 3000,
    });
    const d = sim.pods[1];
    const room = newRoom();
    const started = Date.now();
    const r = await postJson(`${d.url}/v1/completions`, { model: MODEL, prompt: 'lonely', ...boot('127.0.62.11', room) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(5);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ param: 'bootstrap_room' });
    expect(r.json.error.message).toMatch(new RegExp(`^bootstrap room ${room} was never prefilled`));
    expect(await metric(d, 'sim_kv_transfer_rejections_total', { reason: 'room_timeout' })).toBe(1);
  });
});
