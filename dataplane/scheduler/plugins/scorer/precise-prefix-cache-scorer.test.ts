/**
 * The precise prefix scorer over a real KvBlockIndex fed with decoded-event batches: scores are
 * the leading share of the request's token blocks each engine reports holding; pods whose events
 * are not live fall back to the approximate index (or 0); LoRA blocks only match their adapter.
 */
import { KvBlockIndex } from '../../../kv-events/kv-block-index';
import type { KvBlockStored, KvEventBatch } from '../../../kv-events/kv-event-decoder';
import { PrefixHashes } from '../../prefix-hashes';
import { PrefixIndex } from '../../prefix-index';
import { endpoint } from '../../test-support';
import type { KvEventsView, SchedulingRequest } from '../../types';
import { PrecisePrefixCacheScorer, type PrecisePrefixCacheParams } from './precise-prefix-cache-scorer';

const B = 4;
const tokens = (n: number, from = 1) => Array.from({ length: n }, (_, i) => from + i);

/** One BlockStored of whole blocks of `ids`, engine hashes `<pod>-<k>` chained from the start. */
function stored(pod: number, ids: number[], lora: string | null = null, tag = ''): KvEventBatch {
  const n = Math.floor(ids.length / B);
  const ev: KvBlockStored = {
    type: 'BlockStored', blockHashes: Array.from({ length: n }, (_, k) => `${tag}${pod}-${k}`), parentBlockHash: null,
    tokenIds: ids.slice(0, n * B), blockSize: B, loraId: null, loraName: lora, medium: null, groupIdx: null,
  };
  return { ts: 0, events: [ev], dpRank: null, unknownEvents: 0 };
}

function setup(params: Partial<PrecisePrefixCacheParams> = {}) {
  const index = new KvBlockIndex();
  const live = new Set<number>();
  const view: KvEventsView = {
    liveBlockSize: (id) => (live.has(id) ? index.blockSizeOf(id) : 0),
    match: (bs, h, runs) => index.match(bs, h, runs),
    maxBlockSize: () => Math.max(0, ...index.blockSizes()),
  };
  const approx = new PrefixIndex(1000);
  const scorer = new PrecisePrefixCacheScorer('kv', { maxPrefixBlocksToMatch: 256, fallback: 'approximate', approximateHashBlockSize: 4, approximateLruCapacityPerServer: 1000, pendingWeight: 0, ...params }, approx, view);
  const eps = [endpoint(0), endpoint(1), endpoint(2)];
  return { index, live, scorer, eps };
}

const req = (ids: number[] | null, prompt = 'p'.repeat(16), lora: string | null = null): SchedulingRequest =>
  ({ model: 'm', lora, hashes: new PrefixHashes(prompt, ids === null ? null : Uint32Array.from(ids)) });

function scores(s: PrecisePrefixCacheScorer, eps: ReturnType<typeof setup>['eps'], r: SchedulingRequest, keep = [1, 1, 1]): number[] {
  const out = new Float64Array(eps.length).fill(-1);
  s.score(r, eps, Uint8Array.from(keep), out);
  return [...out].map((x) => Math.round(x * 1000) / 1000);
}

describe('precise-prefix-cache-scorer', () => {
  it('scores the leading share of whole token blocks each live engine holds', () => {
    const { index, live, scorer, eps } = setup();
    index.apply(0, stored(0, tokens(16))); // 4 blocks
    index.apply(1, stored(1, tokens(8))); // the first 2
    index.apply(2, stored(2, tokens(16, 100))); // something else
    [0, 1, 2].forEach((id) => live.add(id));
    expect(scores(scorer, eps, req(tokens(16)))).toEqual([1, 0.5, 0]);
    expect(scores(scorer, eps, req(tokens(18)))).toEqual([1, 0.5, 0]); // a partial block is not counted
    expect(scores(scorer, eps, req([99, ...tokens(15, 2)]))).toEqual([0, 0, 0]); // first block differs: nothing reusable
    expect(scores(scorer, eps, req(tokens(3)))).toEqual([0, 0, 0]); // no whole block
  });

  it('needs only maxPrefixBlocksToMatch blocks of tokens, and scores a prompt cut there the same', () => {
    const { index, live, scorer, eps } = setup({ maxPrefixBlocksToMatch: 3 });
    expect(scorer.tokensNeeded()).toBe(Infinity); // no engine has reported a block size yet
    index.apply(0, stored(0, tokens(8)));
    [0, 1].forEach((id) => live.add(id));
    expect(scorer.tokensNeeded()).toBe(3 * B);
    expect(scores(scorer, eps, req(tokens(40)))).toEqual(scores(scorer, eps, req(tokens(13))));
  });

  it('caps the blocks looked at with maxPrefixBlocksToMatch', () => {
    const { index, live, scorer, eps } = setup({ maxPrefixBlocksToMatch: 2 });
    index.apply(0, stored(0, tokens(8))); // the first 2 of the request's 10 blocks
    live.add(0);
    live.add(1);
    expect(scores(scorer, eps, req(tokens(40)))).toEqual([1, 0, 0]);
  });

  it('scores pods without live events from the approximate index, and every pod when there are no tokens', () => {
    const { index, live, scorer, eps } = setup();
    index.apply(0, stored(0, tokens(16)));
    live.add(0); // pods 1 and 2 never published
    const prompt = 'abcdefghijklmnop';
    scorer.record(req(tokens(16), prompt), eps[2]!); // this replica sent the prompt to pod 2
    expect(scores(scorer, eps, req(tokens(16), prompt))).toEqual([1, 0, 1]);
    expect(scores(scorer, eps, req(null, prompt))).toEqual([0, 0, 1]); // not tokenized: approximate for all
  });

  it('with fallback none, pods without live events score 0', () => {
    const { index, live, scorer, eps } = setup({ fallback: 'none' });
    index.apply(0, stored(0, tokens(16)));
    live.add(0);
    scorer.record(req(tokens(16), 'abcdefghijklmnop'), eps[2]!);
    expect(scores(scorer, eps, req(tokens(16), 'abcdefghijklmnop'))).toEqual([1, 0, 0]);
  });

  it('matches adapter blocks only for that adapter', () => {
    const { index, live, scorer, eps } = setup();
    index.apply(0, stored(0, tokens(16), 'lora-a'));
    index.apply(1, stored(1, tokens(16)));
    live.add(0);
    live.add(1);
    live.add(2);
    expect(scores(scorer, eps, req(tokens(16), 'p', 'lora-a'))).toEqual([1, 0, 0]);
    expect(scores(scorer, eps, req(tokens(16)))).toEqual([0, 1, 0]);
  });

  it('with homeScore, a prompt no pod holds gets one home, the same for equal prefixes, and held blocks still win', () => {
    const { index, live, scorer, eps } = setup({ homeScore: 0.3 });
    [0, 1, 2].forEach((id) => live.add(id));
    const cold = scores(scorer, eps, req(tokens(200, 500)));
    expect(cold.filter((x) => x === 0.3)).toHaveLength(1);
    expect(cold.filter((x) => x === 0)).toHaveLength(2);
    // The home is keyed by the prompt's first 512 characters: the same text, the same home.
    expect(scores(scorer, eps, req([...tokens(128, 500), ...tokens(72, 9000)]))).toEqual(cold);
    const home = cold.indexOf(0.3);
    const other = (home + 1) % 3;
    index.apply(other, stored(other, tokens(200, 500)));
    const held = scores(scorer, eps, req(tokens(200, 500)));
    expect(held[other]).toBe(1);
    expect(held[home]).toBe(0.3);
  });

  it('counts what this data plane sent but the engine has not reported yet, below what engines report', () => {
    const { index, live, scorer, eps } = setup({ pendingWeight: 0.9 });
    [0, 1, 2].forEach((id) => {
      live.add(id);
      index.apply(id, stored(id, tokens(8, 900 + id * 10), null, 'other')); // every engine has published something
    });
    const prompt = 'abcdefghijklmnop';
    scorer.record(req(tokens(16), prompt), eps[1]!); // sent to pod 1, not admitted: no events yet
    expect(scores(scorer, eps, req(tokens(16), prompt))).toEqual([0, 0.9, 0]);
    index.apply(2, stored(2, tokens(16))); // pod 2's engine reports the blocks
    expect(scores(scorer, eps, req(tokens(16), prompt))).toEqual([0, 0.9, 1]);
  });

  it('leaves filtered-out endpoints alone and forgets removed blocks', () => {
    const { index, live, scorer, eps } = setup();
    index.apply(0, stored(0, tokens(16)));
    [0, 1, 2].forEach((id) => live.add(id));
    expect(scores(scorer, eps, req(tokens(16)), [1, 0, 1])).toEqual([1, -1, 0]);
    index.apply(0, { ts: 0, dpRank: null, unknownEvents: 0, events: [{ type: 'BlockRemoved', blockHashes: ['0-1'], medium: null, groupIdx: null }] });
    expect(scores(scorer, eps, req(tokens(16)))).toEqual([0.25, 0, 0]); // block 1 gone: only block 0 leads
  });
});
