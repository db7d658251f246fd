/**
 * Seed 004 routing scenarios 1–4, from the YAML exactly as the seed writes it, through the real
 * data plane, operator and engine simulator processes. The simulator names the pod and model that
 * served each request (x-sim-pod, x-sim-model), so each test sees where traffic went.
 */
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { request } from 'undici';
import { example, relocatePods, startLocalSluice, type LocalSluice } from './helpers/cluster';
import { stopAll } from './helpers/processes';
import { testsNeeding } from './helpers/requirements';

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: 21,
    files: {
      'modelroute-simple.yaml': example('modelroute-simple.yaml'),
      'modelroute-lora.yaml': example('modelroute-lora.yaml'),
      'modelroute-subset.yaml': example('modelroute-subset.yaml'),
      'modelroute-multi-models.yaml': example('modelroute-multi-models.yaml'),
      'modelservers.yaml': example('modelservers.yaml'),
      'pods.yaml': relocatePods(example('pods.yaml'), 21),
    },
  });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

async function complete(model: string, headers: Record<string, string> = {}, maxTokens = 40) {
  const res = await request(`${sluice.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, prompt: 'San Francisco is a', temperature: 0, max_tokens: maxTokens, ignore_eos: true }),
  });
  const body = (await res.body.json()) as { model: string; choices: { text: string }[]; usage: { total_tokens: number } };
  return { status: res.statusCode, pod: String(res.headers['x-sim-pod']), servedModel: String(res.headers['x-sim-model']), body };
}

describe('seed 004 scenarios through the data plane', () => {
  it('1. simple model-based routing sends deepseek-simple to deepseek-r1-1-5b, model rewritten', async () => {
    const r = await complete('deepseek-simple');
    expect(r.status).toBe(200);
    expect(r.pod).toMatch(/^deepseek-r1-1-5b-[01]$/);
    expect(r.servedModel).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B');
    expect(r.body.choices[0]!.text).toContain('This is simulated message from deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B!');
    expect(r.body.usage.total_tokens).toBeGreaterThan(0);
  });

  it.each(['lora-A', 'lora-B'])('2. LoRA-aware routing sends %s to deepseek-r1-1-5b, adapter name kept', async (lora) => {
    const r = await complete(lora);
    expect(r.status).toBe(200);
    expect(r.pod).toMatch(/^deepseek-r1-1-5b-[01]$/);
    expect(r.servedModel).toBe(lora);
    expect(r.body.choices[0]!.text).toContain(`This is simulated message from ${lora}!`);
  });

  it('3. weighted routing gives exactly 70/30 over 100 requests, and 7/3 in every 10', async () => {
    const served: string[] = [];
    for (let i = 0; i < 100; i++) served.push((await complete('deepseek-subset', {}, 1)).servedModel);
    const v1 = served.filter((m) => m === 'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B-v1').length;
    const v2 = served.filter((m) => m === 'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B-v2').length;
    expect([v1, v2]).toEqual([70, 30]);
    for (let w = 0; w < 100; w += 10) {
      expect(served.slice(w, w + 10).filter((m) => m.endsWith('-v1'))).toHaveLength(7);
    }
  });

  it('4. header-based routing: premium users get the 7B model, others the 1.5B', async () => {
    const premium = await complete('deepseek-multi-models', { 'user-type': 'premium' });
    expect(premium.pod).toBe('deepseek-r1-7b-0');
    expect(premium.servedModel).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-7B');
    const regular = await complete('deepseek-multi-models');
    expect(regular.servedModel).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B');
    const other = await complete('deepseek-multi-models', { 'user-type': 'premium-trial' });
    expect(other.servedModel).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B');
  });

  it('lists routed model names and LoRA adapters on /v1/models, readable by the openai client', async () => {
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused' });
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(['deepseek-multi-models', 'deepseek-simple', 'deepseek-subset', 'lora-A', 'lora-B']);
  });

  it('streams a chat completion chunk by chunk to the openai client, with usage', async () => {
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused' });
    const stream = await client.chat.completions.create({
      model: 'deepseek-simple',
      messages: [{ role: 'user', content: 'Tell me about San Francisco' }],
      max_tokens: 40,
      stream: true,
      stream_options: { include_usage: true },
      // vLLM's extension: generate exactly max_tokens (the simulator may stop early otherwise).
      ignore_eos: true,
    } as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
    let text = '';
    let chunks = 0;
    let usage: { completion_tokens: number } | undefined;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThanOrEqual(40);
    expect(text).toContain('This is simulated message from deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B!');
    expect(usage?.completion_tokens).toBe(40);
  });

  it('routes embeddings too, with the model rewritten, read by the openai client', async () => {
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused' });
    const res = await client.embeddings.create({ model: 'deepseek-multi-models', input: ['San Francisco', 'is a city'] });
    expect(res.model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B');
    expect(res.data).toHaveLength(2);
    expect(res.data[0]!.embedding.length).toBeGreaterThan(0);
  });

  it('a non-streaming chat completion through the openai client', async () => {
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused' });
    const res = await client.chat.completions.create({ model: 'lora-B', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 20, ignore_eos: true } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    expect(res.choices[0]!.message.content).toContain('lora-B');
    expect(res.usage?.completion_tokens).toBe(20);
  });
});

// promtool checks the format; without it (`apt-get install prometheus`) only this group is skipped.
testsNeeding('promtool').describe('metrics format', () => {
  it('the data plane /metrics passes promtool check metrics', async () => {
    const text = await (await request(`${sluice.adminUrl}/metrics`)).body.text();
    expect(text).toContain('sluice_requests_total{route="default/deepseek-subset"');
    // The streamed and plain answers above have a time to first token; the streams, token gaps.
    expect(text).toMatch(/^sluice_time_to_first_token_seconds_count\{route="[^"]+",server="[^"]+"\} [1-9]/m);
    expect(text).toMatch(/^sluice_inter_token_latency_seconds_count\{server="[^"]+"\} [1-9]/m);
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
    expect(result.status).toBe(0);
  });

  it('the simulated vLLM engine /metrics passes promtool check metrics (but for vLLM\'s colon names)', async () => {
    const text = await (await request('http://127.21.0.11:8000/metrics')).body.text();
    expect(text).toContain('vllm:num_requests_running');
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    // vLLM's real metric names contain ':' (which Prometheus reserves for recording rules), and the
    // simulator mirrors them on purpose; promtool's lint flags each such name. Anything else fails.
    const problems = `${result.stdout}${result.stderr}`.split('\n').filter((l) => l.trim() && !/^vllm:\S+ metric names should not contain ':'$/.test(l));
    expect(problems).toEqual([]);
  });
});
