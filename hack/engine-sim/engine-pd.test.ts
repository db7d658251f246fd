/**
 * The engine's side of prefill/decode disaggregation, without HTTP: prefill pods stop after one
 * token and can keep the prompt's KV, remote prefills wait for their transfer beside the batch and
 * then decode without a prefill, LMCache hits count as cached after an in-step load.
 */
import { Engine, type EngineRequest, type PodRole, type SeqResult } from './engine';
import { resolveProfile, type EngineProfile } from './profile';
import { waitFor } from './test-helpers';

function engine(role: PodRole, profile: Partial<EngineProfile> = {}, timeScale = 100): Engine {
  return new Engine({
    pod: 'e', namespace: 'ns', role, group: 'g', flavour: 'vllm', modelName: 'm', loras: [],
    profile: resolveProfile(profile), timeScale,
  });
}

/** Submit and resolve with the result; `loaded` records onKvLoaded calls. */
function run(e: Engine, req: Partial<EngineRequest> & { promptTokens: number[] }, loaded: number[] = []): Promise<SeqResult> {
  return new Promise((resolve) => {
    e.submit(
      { model: 'm', lora: null, maxTokens: null, ignoreEos: false, seed: 7, ...req },
      { onToken: () => undefined, onFinish: resolve, onKvLoaded: (n) => loaded.push(n) },
    );
  });
}

const prompt = (n: number, base = 0): number[] => Array.from({ length: n }, (_, i) => base + i);

describe('prefill role', () => {
  let e: Engine;
  afterEach(() => e.stop());

  it('finishes every request after its first token, whatever max_tokens says', async () => {
    e = engine('prefill');
    const r = await run(e, { promptTokens: prompt(100), maxTokens: 50, ignoreEos: true });
    expect(r).toMatchObject({ completionTokens: 1, finishReason: 'length' });
    expect(r.ttftMs).toBeCloseTo(10 + 100 * 0.15, 6);
  });

  it('keeps the prompt blocks of a holdKv request until they are released', async () => {
    e = engine('prefill');
    const r = await run(e, { promptTokens: prompt(100), maxTokens: 1, holdKv: true });
    expect(r.heldKv?.blockIds).toHaveLength(7); // ceil(100 / 16)
    expect(e.snapshot().kv.usedBlocks).toBe(7);
    r.heldKv?.release();
    r.heldKv?.release(); // idempotent
    expect(e.snapshot().kv.usedBlocks).toBe(0);
    // Without holdKv the blocks go back at once.
    const plain = await run(e, { promptTokens: prompt(100, 500), maxTokens: 1 });
    expect(plain.heldKv).toBeUndefined();
    expect(e.snapshot().kv.usedBlocks).toBe(0);
  });
});

describe('remote prefill (NIXL / SGLang decode side)', () => {
  let e: Engine;
  afterEach(() => e.stop());

  it('TTFT is the transfer plus one decode step, with no prefill cost', async () => {
    e = engine('decode');
    const loaded: number[] = [];
    const r = await run(e, { promptTokens: prompt(1000), maxTokens: 5, ignoreEos: true, remotePrefill: true }, loaded);
    expect(r.kvTransferTokens).toBe(1000);
    expect(r.kvTransferMs).toBeCloseTo(1000 * 0.002, 9);
    expect(r.ttftMs).toBeCloseTo(2 + 12.08, 6);
    expect(r.e2eMs - r.ttftMs).toBeCloseTo(4 * 12.08, 6);
    expect(r.cachedTokens).toBe(0);
    expect(loaded).toEqual([1000]);
  });

  it('moves only the tokens it does not hold already', async () => {
    e = engine('decode');
    await run(e, { promptTokens: prompt(100), maxTokens: 1, ignoreEos: true, remotePrefill: true });
    const again = await run(e, { promptTokens: prompt(100), maxTokens: 1, ignoreEos: true, remotePrefill: true });
    // 96 tokens are in this pod's prefix cache now; the last block (4 tokens) moves.
    expect(again.cachedTokens).toBe(96);
    expect(again.kvTransferTokens).toBe(4);
  });

  it('holds its blocks and counts as waiting while the KV is on its way', async () => {
    // 1 ms per token x 400 tokens = 400 simulated ms = 200 wall ms at time scale 2.
    e = engine('decode', { kvTransferMsPerToken: 1 }, 2);
    const done = run(e, { promptTokens: prompt(400), maxTokens: 2, ignoreEos: true, remotePrefill: true });
    const seen = await waitFor(() => {
      const s = e.snapshot();
      return s.waiting === 1 && s.running === 0 && s.kv.usedBlocks === 25 ? s : null;
    }, 'a transferring sequence');
    expect(seen.waiting).toBe(1);
    const r = await done;
    expect(r.ttftMs).toBeCloseTo(400 + 12.08, 6);
    expect(e.snapshot().kv.usedBlocks).toBe(0);
  });

  it('does not hold up the sequences already decoding', async () => {
    e = engine('decode', { kvTransferMsPerToken: 0.5 });
    const long = run(e, { promptTokens: prompt(10, 9000), maxTokens: 30, ignoreEos: true });
    const remote = run(e, { promptTokens: prompt(200), maxTokens: 3, ignoreEos: true, remotePrefill: true });
    const [a, b] = await Promise.all([long, remote]);
    // The 100 ms transfer runs beside A's decode steps; B then joins them as a decoder
    // (steps of 12 + 0.08 x 2), so A's 29 decode steps cost 12.08 or 12.16 each and nothing more.
    expect(a.e2eMs - a.ttftMs).toBeLessThan(29 * 12.16 + 1e-6);
    expect(b.ttftMs).toBeGreaterThanOrEqual(100);
    expect(b.ttftMs).toBeLessThan(100 + 2 * 12.16 + 25);
  });

  it('takes the arrival time it is given (SGLang: the decode arrived before its room was ready)', async () => {
    e = engine('decode');
    const r = await run(e, { promptTokens: prompt(100), maxTokens: 1, remotePrefill: true, arrivalSim: e.clock.now() - 50 });
    expect(r.ttftMs).toBeGreaterThanOrEqual(50 + 0.2 + 12.08);
    expect(r.queueMs).toBeGreaterThanOrEqual(50);
  });
});

describe('external (LMCache) cache', () => {
  let e: Engine;
  afterEach(() => e.stop());

  it.each([
    // [blocks in the store, expected loaded tokens, expected TTFT]
    [0, 0, 10 + 1000 * 0.15],
    [10, 160, 10 + 840 * 0.15 + 160 * 0.002],
    [1000, 992, 10 + 8 * 0.15 + 992 * 0.002], // the last prompt token is always computed
  ])('a store holding %p leading blocks loads %p tokens', async (stored, moved, ttft) => {
    e = engine('decode');
    const loaded: number[] = [];
    const r = await run(e, { promptTokens: prompt(1000), maxTokens: 1, externalCache: (h) => Math.min(stored, h.length) }, loaded);
    expect(r.kvTransferTokens).toBe(moved);
    expect(r.ttftMs).toBeCloseTo(ttft, 6);
    expect(loaded).toEqual(moved > 0 ? [moved] : []);
  });
});
