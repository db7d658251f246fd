import { SseParser } from './gsp-client';
import { rateRows, schedulingSvg, targetCheck } from './sched-report';
import { configMapYaml, kthenaSchedulerText, ROWS, rowSchedulerConfig, selectRows } from './sched-rows';
import { kvCapacity, KV_DERIVATION, schedulingProfile } from './sched-engine';
import { resolveProfile } from '../engine-sim/profile';
import type { RowResult, SchedulingResult } from './scheduling';

describe('scheduling rows', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))('%s compiles through the Kthena dialect with the least-request filter', (_name, row) => {
    const c = rowSchedulerConfig(row);
    expect(c.source).toBe('kthena');
    expect(c.profiles).toHaveLength(1);
    expect(c.profiles[0]!.filters).toEqual(['least-request']);
    expect(c.profiles[0]!.scorers.map((s) => s.plugin)).toEqual(row.scorers.map((s) => s.plugin));
    expect(configMapYaml(row)).toContain('name: kthena-router-config');
    expect(configMapYaml(row)).toContain(kthenaSchedulerText(row).split('\n')[0]);
  });

  it('passes the prefix-cache arguments only to rows that use it', () => {
    const prefix = rowSchedulerConfig(selectRows(['lr-prefix'])[0]!).plugins.find((p) => p.type === 'prefix-cache-scorer');
    expect(prefix?.parameters).toMatchObject({ hashBlockSize: 64, maxPrefixBlocksToMatch: 128, maxHashCacheSize: 100000 });
    expect(kthenaSchedulerText(selectRows(['random'])[0]!)).not.toContain('prefix-cache');
  });

  it('runs lr-precise as the precise scorer matching 128 blocks, next to the approximate row', () => {
    const c = rowSchedulerConfig(selectRows(['lr-precise'])[0]!);
    const precise = c.plugins.find((p) => p.type === 'precise-prefix-cache-scorer');
    expect(precise?.parameters).toMatchObject({ maxPrefixBlocksToMatch: 128 });
    expect(c.plugins.some((p) => p.type === 'prefix-cache-scorer')).toBe(false);
    expect(kthenaSchedulerText(selectRows(['lr-precise'])[0]!)).toContain('blockSizeToHash: 128');
  });

  it('rejects an unknown row name, listing the known ones', () => {
    expect(() => selectRows(['nope'])).toThrow(/known rows: random, least-request/);
  });
});

describe('simulated engine profile', () => {
  it.each([
    { gib: 64, tokens: 657280 },
    { gib: 80, tokens: 926976 },
  ])('$gib GiB device: $tokens KV tokens, a valid simulator profile', ({ gib, tokens }) => {
    expect(kvCapacity({ ...KV_DERIVATION, deviceGiB: gib }).tokens).toBe(tokens);
    const p = resolveProfile(schedulingProfile(gib));
    expect(p.numGpuBlocks * p.blockSize).toBe(tokens);
    // A long-workload decode step with 100 sequences of ~4352 tokens is ~34 ms (the seed's ITL).
    expect(p.decodeBaseMs + 100 * p.decodeMsPerSeq + 100 * 4352 * p.decodeMsPerContextToken).toBeCloseTo(33.5, 0);
  });
});

describe('SseParser', () => {
  it.each([
    { name: 'whole events', chunks: ['data: a\n\ndata: b\n\n'], want: ['a', 'b'] },
    { name: 'split inside an event', chunks: ['da', 'ta: x', 'y\n', '\ndata: [DONE]\n\n'], want: ['xy', '[DONE]'] },
    { name: 'incomplete tail kept', chunks: ['data: 1\n\ndata: 2'], want: ['1'] },
  ])('$name', ({ chunks, want }) => {
    const p = new SseParser();
    expect(chunks.flatMap((c) => p.push(c))).toEqual(want);
  });
});

describe('scheduling report', () => {
  const row = (name: string, throughput: number, ttft: number): RowResult => ({
    workload: 'long', row: name, label: name, requests: 10, ok: 10, successPct: 100, throughput, meanLatencySec: 1, p99LatencySec: 2,
    meanTtftSec: ttft, p50TtftSec: ttft, p99TtftSec: ttft, engineMeanTtftSec: ttft, steadyMeanTtftSec: ttft, hitRatePct: 50, pods: [], podsPerGroup: 1,
    dataplanes: 1, promptTokenMismatches: 0, kvEvents: null,
    durationSimSec: 1, durationWallSec: 1, errors: {}, cpu: { dataplane: 0, dataplaneEach: [0], engine: 0, client: 0, machinePct: 0, otherCpuPct: 0, otherNicePct: 0 },
    before: { busyPct: 0, nicePct: 0, loadavg: [0, 0, 0], waitedSec: 0 }, clientMaxLagWallMs: 0, attempt: 1,
  });

  it.each([
    { name: 'both met', best: row('lr-prefix', 30, 0.5), throughputMet: true, ttftMet: true },
    { name: 'throughput short', best: row('lr-prefix', 20, 0.5), throughputMet: false, ttftMet: true },
    { name: 'TTFT short', best: row('lr-prefix', 30, 1.0), throughputMet: true, ttftMet: false },
  ])('target check: $name', ({ best, throughputMet, ttftMet }) => {
    const rated = rateRows([row('random', 10, 2), best, row('least-request', 5, 3)]);
    const t = targetCheck(rated);
    expect(t.best?.row).toBe('lr-prefix');
    expect({ throughputMet: t.throughputMet, ttftMet: t.ttftMet }).toEqual({ throughputMet, ttftMet });
  });

  it('draws one bar per row and metric in a well-formed SVG', () => {
    const r = { workloads: { long: { groups: 1, perGroup: 1, systemTokens: 4096, questionTokens: 128, outputTokens: 256, seed: 1 } }, rows: [row('random', 10, 2), row('lr-prefix', 30, 0.5)] } as unknown as SchedulingResult;
    const svg = schedulingSvg(r);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect [^>]*height="18"/g)).toHaveLength(4);
    expect(svg).toContain('30.0');
  });
});
