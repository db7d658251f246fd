import net from 'node:net';
import OpenAI from 'openai';
import { startEngineSim, type EngineSimHandle } from './simulator';
import { OutputText } from './output-text';
import { get, postJson, sseData } from './test-helpers';
import { hashTokens, tokenize } from './tokenizer';

const MODEL = 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B';

describe('OpenAI-compatible API of one pod', () => {
  let sim: EngineSimHandle;
  let base: string;

  beforeAll(async () => {
    sim = await startEngineSim({
      pods: [{ name: 'api-0', ip: '127.0.0.2', port: 0, model: MODEL, loras: ['lora-A'] }],
      timeScale: 50,
      profile: { maxModelLen: 4096 },
    });
    base = sim.pods[0].url;
  });
  afterAll(() => sim.close());

  it('binds an ephemeral port when asked for port 0', () => {
    expect(sim.pods[0].port).toBeGreaterThan(0);
    expect(base).toBe(`http://127.0.0.2:${sim.pods[0].port}`);
  });

  it('answers /v1/completions like vLLM, with sim headers and the sim field', async () => {
    const r = await postJson(`${base}/v1/completions`, { model: MODEL, prompt: 'Say hello to the router', max_tokens: 12, ignore_eos: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-sim-pod')).toBe('api-0');
    expect(r.headers.get('x-sim-model')).toBe(MODEL);
    expect(r.json).toMatchObject({
      object: 'text_completion',
      model: MODEL,
      choices: [{ index: 0, finish_reason: 'length', logprobs: null }],
      usage: { prompt_tokens: 5, completion_tokens: 12, total_tokens: 17 },
      sim: { pod: 'api-0', prefix_cache_hit_tokens: 0 },
    });
    expect(r.json.id).toMatch(/^cmpl-/);
    expect(r.json.choices[0].text.startsWith(`This is simulated message from ${MODEL}!`)).toBe(true);
    expect(r.json.sim.ttft_ms).toBeGreaterThan(0);
  });

  it('answers chat for a LoRA adapter with the adapter name in text and headers', async () => {
    const r = await postJson(`${base}/v1/chat/completions`, {
      model: 'lora-A',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-sim-model')).toBe('lora-A');
    expect(r.json.object).toBe('chat.completion');
    expect(r.json.choices[0].message.role).toBe('assistant');
    expect(r.json.choices[0].message.content.startsWith('This is simulated message from lora-A!')).toBe(true);
  });

  it('gives chat without max_tokens a deterministic natural length in [16, 128]', async () => {
    const body = { model: MODEL, messages: [{ role: 'user', content: 'tell me a story' }] };
    const a = await postJson(`${base}/v1/chat/completions`, body);
    const b = await postJson(`${base}/v1/chat/completions`, body);
    expect(a.json.choices[0].finish_reason).toBe('stop');
    expect(a.json.usage.completion_tokens).toBeGreaterThanOrEqual(16);
    expect(a.json.usage.completion_tokens).toBeLessThanOrEqual(128);
    expect(b.json.choices[0].message.content).toBe(a.json.choices[0].message.content);
  });

  it.each([1, 7, 40])('honours max_tokens=%d with ignore_eos', async (n) => {
    const r = await postJson(`${base}/v1/completions`, { model: MODEL, prompt: 'count', max_tokens: n, ignore_eos: true });
    expect(r.json.usage.completion_tokens).toBe(n);
  });

  it('defaults completions to 16 tokens', async () => {
    const r = await postJson(`${base}/v1/completions`, { model: MODEL, prompt: [1, 2, 3] });
    expect(r.json.usage).toEqual({ prompt_tokens: 3, completion_tokens: 16, total_tokens: 19 });
  });

  it('returns vLLM NotFoundError for an unknown model', async () => {
    const r = await postJson(`${base}/v1/completions`, { model: 'nope', prompt: 'x' });
    expect(r.status).toBe(404);
    expect(r.headers.get('x-sim-pod')).toBe('api-0');
    expect(r.json).toEqual({
      error: { message: 'The model `nope` does not exist.', type: 'NotFoundError', param: 'model', code: 404 },
    });
  });

  it.each([
    ['missing prompt', '/v1/completions', { model: MODEL }],
    ['empty messages', '/v1/chat/completions', { model: MODEL, messages: [] }],
    ['malformed JSON', '/v1/completions', '{"model": '],
    ['max_tokens 0', '/v1/completions', { model: MODEL, prompt: 'x', max_tokens: 0 }],
    ['n > 1', '/v1/completions', { model: MODEL, prompt: 'x', n: 2 }],
    ['over max_model_len', '/v1/completions', { model: MODEL, prompt: 'x', max_tokens: 5000 }],
  ])('returns 400 BadRequestError for %s', async (_name, path, body) => {
    const r = await postJson(`${base}${path}`, body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'BadRequestError', code: 400 });
    expect(r.headers.get('x-sim-pod')).toBe('api-0');
  });

  it('answers unknown paths 404 and wrong methods 405', async () => {
    expect((await get(`${base}/v2/nothing`)).status).toBe(404);
    expect((await get(`${base}/v1/completions`)).status).toBe(405);
  });

  it('serves /health and /v1/models', async () => {
    const h = await get(`${base}/health`);
    expect(h.status).toBe(200);
    expect(h.text).toBe('');
    const m = await get(`${base}/v1/models`);
    expect(m.json.object).toBe('list');
    expect(m.json.data.map((d: { id: string }) => d.id)).toEqual([MODEL, 'lora-A']);
    expect(m.json.data[0]).toMatchObject({ object: 'model', owned_by: 'vllm', root: MODEL, parent: null, max_model_len: 4096 });
    expect(m.json.data[1]).toMatchObject({ parent: MODEL });
  });

  it('streams completions: one chunk per token, usage chunk, then [DONE]', async () => {
    const r = await postJson(`${base}/v1/completions`, {
      model: MODEL, prompt: 'stream me', max_tokens: 6, ignore_eos: true, stream: true,
      stream_options: { include_usage: true },
    });
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    expect(r.headers.get('x-sim-pod')).toBe('api-0');
    const events = sseData(r.text);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as Array<Record<string, any>>;
    const tokens = chunks.filter((c) => c.choices.length > 0);
    expect(tokens).toHaveLength(6);
    expect(tokens.map((c) => c.choices[0].text).join('')).toBe(`This is simulated message from ${MODEL}!`);
    expect(tokens.at(-1)?.choices[0].finish_reason).toBe('length');
    expect(tokens.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 6 } });
  });

  it('is readable by the openai client, streaming and not', async () => {
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sim', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'lora-A', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8, stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let contentChunks = 0;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) {
        contentChunks++;
        text += chunk.choices[0].delta.content;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(contentChunks).toBe(8);
    expect(text.startsWith('This is simulated')).toBe(true);
    expect(usage?.completion_tokens).toBe(8);

    const c = await client.completions.create({ model: MODEL, prompt: 'plain', max_tokens: 4 });
    expect(c.usage?.completion_tokens).toBe(4);
    const cs = await client.completions.create({ model: MODEL, prompt: 'plain', max_tokens: 4, stream: true });
    let n = 0;
    for await (const chunk of cs) n += chunk.choices.length;
    expect(n).toBe(4);
  });
});

describe('several pods on one port', () => {
  let sim: EngineSimHandle;

  beforeAll(async () => {
    // Find a port free on 127.0.0.2, then bind two pods to it on two loopback addresses.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.2', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    sim = await startEngineSim({
      pods: [
        { name: 'pod-a', ip: '127.0.0.2', port, model: MODEL },
        { name: 'pod-b', ip: '127.0.0.3', port, model: MODEL, engine: 'sglang' },
      ],
      timeScale: 50,
    });
  });
  afterAll(() => sim.close());

  it('each pod answers with its own x-sim-pod', async () => {
    const [a, b] = sim.pods;
    expect(a.port).toBe(b.port);
    for (const pod of sim.pods) {
      const r = await postJson(`http://${pod.ip}:${pod.port}/v1/completions`, { model: MODEL, prompt: 'who?', max_tokens: 2 });
      expect(r.headers.get('x-sim-pod')).toBe(pod.name);
      expect(r.json.sim.pod).toBe(pod.name);
    }
  });

  it('refuses a non-loopback address and closes already-bound pods on failure', async () => {
    await expect(startEngineSim({ pods: [{ name: 'x', ip: '10.0.0.1', port: 0, model: MODEL }] })).rejects.toThrow(/loopback/);
    const [a] = sim.pods;
    await expect(
      startEngineSim({ pods: [{ name: 'dup', ip: a.ip, port: a.port, model: MODEL }] }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('streamInterval', () => {
  let sim: EngineSimHandle;
  afterEach(() => sim.close());

  it.each([
    // [interval, max_tokens, text lengths in tokens of the token chunks]
    [1, 5, [1, 1, 1, 1, 1]],
    [4, 10, [1, 4, 4, 1]],
    [4, 9, [1, 4, 4]],
    [16, 3, [1, 2]],
    [8, 1, [1]],
  ])('interval %p, %p tokens: first token alone, then chunks of the interval', async (streamInterval, maxTokens, sizes) => {
    sim = await startEngineSim({ pods: [{ name: 'si', ip: '127.0.0.2', port: 0, model: MODEL }], timeScale: 50, profile: { streamInterval } });
    const r = await postJson(`${sim.pods[0].url}/v1/completions`, {
      model: MODEL, prompt: 'chunk me', max_tokens: maxTokens, ignore_eos: true, stream: true, stream_options: { include_usage: true },
    });
    const chunks = (sseData(r.text).slice(0, -1) as Array<Record<string, any>>).filter((c) => c.choices.length > 0);
    // The pieces the engine generates for this prompt, grouped as the chunks should carry them.
    const out = new OutputText(MODEL, hashTokens(tokenize('chunk me')));
    let i = 0;
    const want = sizes.map((n) => Array.from({ length: n }, () => out.pieceAt(i++)).join(''));
    expect(chunks.map((c) => c.choices[0].text)).toEqual(want);
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1)?.sim).toBeDefined();
  });
});
