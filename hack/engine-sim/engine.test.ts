import { Engine, type EngineRequest, type SeqResult } from './engine';
import { resolveProfile, type EngineProfile } from './profile';

function engine(profile: Partial<EngineProfile> = {}): Engine {
  return new Engine({
    pod: 'e', namespace: 'ns', role: 'both', flavour: 'vllm', modelName: 'm', loras: [],
    profile: resolveProfile(profile), timeScale: 100,
  });
}

/** Submit and resolve with the result; also collect the streamed pieces. */
function run(e: Engine, req: Partial<EngineRequest> & { promptTokens: number[] }): Promise<SeqResult & { pieces: string[] }> {
  const pieces: string[] = [];
  return new Promise((resolve) => {
    e.submit(
      { model: 'm', lora: null, maxTokens: null, ignoreEos: false, seed: 7, ...req },
      { onToken: (p) => pieces.push(p), onFinish: (r) => resolve({ ...r, pieces }) },
    );
  });
}

const prompt = (n: number, base: number): number[] => Array.from({ length: n }, (_, i) => base + i);

describe('Engine timing formulas', () => {
  let e: Engine;
  afterEach(() => e.stop());

  it('batches same-tick arrivals into one prefill step, then decodes them together', async () => {
    e = engine();
    const [a, b] = await Promise.all([
      run(e, { promptTokens: prompt(100, 0), maxTokens: 11, ignoreEos: true }),
      run(e, { promptTokens: prompt(100, 1000), maxTokens: 11, ignoreEos: true }),
    ]);
    // One step prefills both: 2 x (10 + 100 x 0.15) = 50 ms.
    expect(a.ttftMs).toBeCloseTo(50, 6);
    expect(b.ttftMs).toBeCloseTo(50, 6);
    // Then 10 decode steps of 12 + 0.08 x 2 = 12.16 ms.
    expect(a.e2eMs - a.ttftMs).toBeCloseTo(10 * 12.16, 6);
    expect(a.queueMs).toBe(0);
  });

  it('defers a prefill that does not fit the step token budget to the next step', async () => {
    e = engine({ maxNumBatchedTokens: 150 });
    const [a, b] = await Promise.all([
      run(e, { promptTokens: prompt(100, 0), maxTokens: 3, ignoreEos: true }),
      run(e, { promptTokens: prompt(100, 1000), maxTokens: 3, ignoreEos: true }),
    ]);
    expect(a.ttftMs).toBeCloseTo(25, 6);
    // B waits one step (25 ms), then shares a step with A's first decode: 12.08 + 25.
    expect(b.queueMs).toBeCloseTo(25, 6);
    expect(b.ttftMs).toBeCloseTo(25 + 12.08 + 25, 6);
  });

  it('streams the pieces that make up the final text', async () => {
    e = engine();
    const r = await run(e, { model: 'ad', promptTokens: prompt(10, 0), maxTokens: 9, ignoreEos: true });
    expect(r.pieces).toHaveLength(9);
    expect(r.pieces.join('')).toBe(r.text);
    expect(r.text.startsWith('This is simulated message from ad!')).toBe(true);
  });
});

describe('Engine output length', () => {
  let e: Engine;
  afterEach(() => e.stop());

  it.each([
    // [maxTokens, ignoreEos, expected finish]
    [null, false, 'stop'],
    [4, false, 'length'],
    [4, true, 'length'],
    [500, false, 'stop'],
  ] as const)('maxTokens=%p ignoreEos=%p finishes with %s', async (maxTokens, ignoreEos, finish) => {
    e = engine();
    const r = await run(e, { promptTokens: prompt(5, 0), maxTokens, ignoreEos });
    expect(r.finishReason).toBe(finish);
    if (finish === 'length') expect(r.completionTokens).toBe(maxTokens);
    else expect(r.completionTokens).toBeLessThanOrEqual(128);
  });

  it('caps an unlimited request at max_model_len - prompt', async () => {
    e = engine({ maxModelLen: 40 });
    const r = await run(e, { promptTokens: prompt(35, 0), maxTokens: null });
    expect(r.completionTokens).toBe(5);
    expect(r.finishReason).toBe('length');
  });

  it.each([
    ['context overflow', 100, 10, 50, /maximum context length is 100/],
    ['bigger than the KV pool', 10_000, 100, 300, /KV-cache/],
  ])('checkFits rejects %s', (_name, maxModelLen, numGpuBlocks, promptLen, msg) => {
    e = engine({ maxModelLen, numGpuBlocks, blockSize: 1 });
    expect(e.checkFits(promptLen, 60)).toMatch(msg);
    expect(e.checkFits(1, 1)).toBeNull();
  });
});

describe('decodeMsPerContextToken', () => {
  let e: Engine;
  afterEach(() => e.stop());

  it('adds the context tokens of every decoding sequence to each decode step', async () => {
    e = engine({ decodeMsPerContextToken: 0.01 });
    const r = await run(e, { promptTokens: prompt(100, 0), maxTokens: 3, ignoreEos: true });
    expect(r.ttftMs).toBeCloseTo(10 + 100 * 0.15, 6);
    // Decode steps see 101 then 102 context tokens: (12 + 0.08 + 1.01) + (12 + 0.08 + 1.02).
    expect(r.e2eMs - r.ttftMs).toBeCloseTo(2 * 12.08 + 1.01 + 1.02, 6);
  });
});
