/**
 * A bounded fuzzer: 5,000 OpenAI request bodies, mutated from valid ones by a seeded PRNG (the
 * same bodies on every run), sent through a real data plane to the engine simulator. Whatever
 * the body, Sluice must answer it as a client error or serve it: no 5xx, and the data plane must
 * still serve afterwards. A failure prints the seed and the body that caused it.
 */
import { Agent, request } from 'undici';
import { mulberry32 } from '../../shared/util/random';
import type { LocalSluice } from '../helpers/cluster';
import { stopAll } from '../helpers/processes';
import { MODEL, completionBody, startQuickstartSluice } from './support';

const SUBNET = 64;
const SEED = 0x5eed11;
const BODIES = 5_000;
const CONCURRENCY = 32;
/** The whole run must finish within this, whatever the engine does with odd inputs. */
const RUN_DEADLINE_MS = 90_000;
let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startQuickstartSluice({ subnet: SUBNET, timeScale: 200 });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const BASES: { path: string; body: Record<string, Json> }[] = [
  { path: '/v1/completions', body: { model: MODEL, prompt: 'San Francisco is a', max_tokens: 8 } },
  { path: '/v1/completions', body: { model: MODEL, prompt: 'Hello', max_tokens: 4, stream: true, stream_options: { include_usage: true } } },
  { path: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], max_tokens: 8 } },
  { path: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], stream: true, max_tokens: 4 } },
  { path: '/v1/embeddings', body: { model: MODEL, input: ['a', 'b'] } },
];

/** Odd values a field may be replaced with. */
const ODD: Json[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53, '', ' ', 'x'.repeat(10_000), '\u0000', '\ud800', '😀'.repeat(50),
  [], [[]], {}, { model: MODEL }, [null], 'deepseek-simple', 'lora-A', 'no-such-model', '__proto__', '10', 'NaN', [1, 2, 3]];
const KEYS = ['model', 'prompt', 'messages', 'input', 'stream', 'max_tokens', 'max_completion_tokens', 'stream_options', 'n', 'temperature', 'ignore_eos', 'role', 'content', '__proto__', 'constructor', ''];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

/** One structural mutation of a JSON value somewhere inside it. */
function mutate(rand: () => number, v: Json, depth = 0): Json {
  if (v !== null && typeof v === 'object' && depth < 4 && rand() < 0.6) {
    if (Array.isArray(v)) {
      if (v.length === 0 || rand() < 0.2) return [...v, pick(rand, ODD)];
      const i = Math.floor(rand() * v.length);
      const copy = [...v];
      if (rand() < 0.2) copy.splice(i, 1);
      else copy[i] = mutate(rand, copy[i]!, depth + 1);
      return copy;
    }
    const keys = Object.keys(v);
    const copy: { [k: string]: Json } = { ...v };
    const r = rand();
    if (r < 0.2 || keys.length === 0) copy[pick(rand, KEYS)] = pick(rand, ODD);
    else if (r < 0.35) delete copy[pick(rand, keys)];
    else {
      const k = pick(rand, keys);
      copy[k] = mutate(rand, copy[k]!, depth + 1);
    }
    return copy;
  }
  return pick(rand, ODD);
}

/** Mutations of the text itself: truncation, byte flips, nesting, wrong framing. */
function mutateText(rand: () => number, text: string): string {
  const r = rand();
  if (r < 0.2) return text.slice(0, Math.floor(rand() * text.length));
  if (r < 0.4) {
    const i = Math.floor(rand() * text.length);
    return text.slice(0, i) + String.fromCharCode(Math.floor(rand() * 256)) + text.slice(i + 1);
  }
  if (r < 0.55) {
    const n = pick(rand, [10, 63, 64, 65, 200, 5_000]);
    return text.replace(/}$/, `,"deep":${'['.repeat(n)}${']'.repeat(n)}}`);
  }
  if (r < 0.65) return `[${text}]`;
  if (r < 0.75) return text.replace('{', '{"model":1,');
  if (r < 0.85) return `${text}${text}`;
  return pick(rand, ['', 'null', '"string"', '42', '{', '{"model":', '\ufeff{}', '{"model":"deepseek-simple"}']);
}

/** The i-th fuzz case: deterministic from SEED and i. */
function fuzzCase(i: number): { path: string; body: string } {
  const rand = mulberry32(SEED + i);
  const base = pick(rand, BASES);
  let value: Json = base.body;
  const rounds = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < rounds; k++) value = mutate(rand, value);
  let text = JSON.stringify(value);
  if (rand() < 0.3) text = mutateText(rand, text);
  return { path: rand() < 0.05 ? pick(rand, ['/v1/completions', '/v1/chat/completions', '/v1/embeddings']) : base.path, body: text };
}

describe('fuzzing request bodies', () => {
  it(`answers ${BODIES} mutated bodies without a single 5xx`, async () => {
    const agent = new Agent({ connections: CONCURRENCY });
    const deadline = Date.now() + RUN_DEADLINE_MS;
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < BODIES && Date.now() < deadline) {
        const i = next++;
        const { path, body } = fuzzCase(i);
        try {
          const res = await request(`${sluice.url}${path}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body, headersTimeout: 30_000, bodyTimeout: 30_000 });
          const text = await res.body.text();
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          if (res.statusCode >= 500) failures.push(`case ${i} (seed ${SEED}+${i}) ${path} → ${res.statusCode} ${text.slice(0, 200)}; body ${JSON.stringify(body.slice(0, 300))}`);
        } catch (err) {
          failures.push(`case ${i} (seed ${SEED}+${i}) ${path} → ${(err as Error).message}; body ${JSON.stringify(body.slice(0, 300))}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await agent.close();
    const sent = [...statuses.values()].reduce((a, b) => a + b, 0) + failures.filter((f) => !/→ \d{3} /.test(f)).length;
    expect(failures.slice(0, 10)).toEqual([]);
    expect(sent).toBe(BODIES);
    // The mix exercised both sides: refusals and successes.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(100);
    expect([...statuses.keys()].some((s) => s >= 400 && s < 500)).toBe(true);
    // And the data plane still serves.
    const after = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: completionBody() });
    await after.body.dump();
    expect(after.statusCode).toBe(200);
  }, 120_000);
});
