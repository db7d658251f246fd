/**
 * The simulator's /metrics for each engine flavour passes Prometheus's own checker (promtool),
 * after real traffic, so the histograms and counters have samples. vLLM and SGLang name their
 * metrics with ':' (reserved by Prometheus for recording rules) and TGI's counters have no _total
 * suffix (tgi_request_count); the simulator mirrors the real names, so those naming lints, and
 * only those, are allowed. A format error fails the test.
 */
import { spawnSync } from 'node:child_process';
import { request } from 'undici';
import { startEngineSim, type EngineSimHandle } from '../hack/engine-sim/simulator';
import { testsNeeding } from './helpers/requirements';

// Skipped, with one line saying how to enable them, when promtool is missing (failed under SLUICE_REQUIRE_ALL_TESTS=1).
const { describe, it, beforeAll, afterAll } = testsNeeding('promtool');

const REAL_ENGINE_NAMING = /^\S+ (metric names should not contain ':'|counter metrics should have "_total" suffix|non-histogram and non-summary metrics should not have "_count" suffix)$/;

let sim: EngineSimHandle;

beforeAll(async () => {
  sim = await startEngineSim({
    timeScale: 50,
    pods: [
      { name: 'v', ip: '127.24.0.1', port: 0, model: 'm', engine: 'vllm', loras: ['a'] },
      { name: 's', ip: '127.24.0.2', port: 0, model: 'm', engine: 'sglang' },
      { name: 't', ip: '127.24.0.3', port: 0, model: 'm', engine: 'tgi' },
    ],
  });
});

afterAll(() => sim.close());

describe.each([['vllm', 0, 'vllm:num_requests_running'], ['sglang', 1, 'sglang:num_running_reqs'], ['tgi', 2, 'tgi_queue_size']])('%s flavour', (_flavour, index, expected) => {
  it('passes promtool check metrics after traffic', async () => {
    const pod = sim.pods[index]!;
    const res = await request(`${pod.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', prompt: 'hello there', max_tokens: 4 }) });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const text = await (await request(`${pod.url}/metrics`)).body.text();
    expect(text).toContain(expected);
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    const problems = `${result.stdout}${result.stderr}`.split('\n')
      .filter((l) => l.trim() && !REAL_ENGINE_NAMING.test(l));
    expect(problems).toEqual([]);
  });
});
