import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectorySource } from '../../operator/sources/directory-source';
import { compileSnapshot } from '../../shared/snapshot/compile';
import { adapterName, LORA_ROWS, readStream, rowObjects, staticPartition, zipfSampler, zipfWeights } from './lora';

async function* chunks(...parts: string[]): AsyncIterable<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}
const token = (text: string, sim?: object) => `data: ${JSON.stringify({ choices: [{ index: 0, text }], ...(sim ? { sim } : {}) })}\n\n`;

describe('lora benchmark workload', () => {
  it.each([
    { n: 16, s: 1.1 },
    { n: 4, s: 0.5 },
    { n: 1, s: 2 },
  ])('Zipf weights for $n adapters, s=$s: sum to 1, P(1)/P(2) = 2^s', ({ n, s }) => {
    const w = zipfWeights(n, s);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    if (n > 1) expect(w[0]! / w[1]!).toBeCloseTo(2 ** s, 9);
    for (let k = 1; k < n; k++) expect(w[k]!).toBeLessThan(w[k - 1]!);
  });

  it('samples ranks with the Zipf frequencies, the same sequence for the same seed', () => {
    const a = zipfSampler(16, 1.1, 3);
    const b = zipfSampler(16, 1.1, 3);
    const counts = new Array<number>(16).fill(0);
    const draws = 50_000;
    const seqA = Array.from({ length: draws }, a);
    expect(Array.from({ length: draws }, b)).toEqual(seqA);
    for (const k of seqA) counts[k]!++;
    zipfWeights(16, 1.1).forEach((p, k) => expect(Math.abs(counts[k]! / draws - p)).toBeLessThan(0.01));
  });

  it.each([
    { adapters: 16, pods: 4 },
    { adapters: 10, pods: 3 },
  ])('static partition of $adapters over $pods pods: each adapter once, sizes differ by at most one', ({ adapters, pods }) => {
    const parts = staticPartition(adapters, pods);
    expect(parts.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: adapters }, (_, k) => k));
    const sizes = parts.map((p) => p.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    // Snake order: the most popular adapter and the least popular of the first round share a pod.
    expect(parts[0]).toContain(0);
    expect(parts[0]).toContain(2 * pods - 1);
  });

  it.each(LORA_ROWS.map((row) => ({ row })))('$row: the objects compile with no issues and route all 16 adapters', ({ row }) => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-bench-test-'));
    try {
      writeFileSync(join(dir, 'objects.yaml'), rowObjects(row, { adapters: 16, pods: 4 }));
      const load = new DirectorySource(dir).load();
      expect(load.issues).toEqual([]);
      const { snapshot, schedulerIssues } = compileSnapshot(load.objects, { version: 1, generatedAt: new Date(0).toISOString(), routerConfigNamespace: 'default' });
      expect(schedulerIssues).toEqual([]);
      const routed = snapshot.routes.flatMap((r) => r.loraAdapters).sort();
      expect(routed).toEqual(Array.from({ length: 16 }, (_, k) => adapterName(k)).sort());
      expect(snapshot.servers.flatMap((s) => s.endpoints)).toHaveLength(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('readStream', () => {
    it('takes TTFT at the first chunk with text, even when events are split across reads', async () => {
      const first = token('This');
      const r = await readStream(chunks(first.slice(0, 9), first.slice(9), token(' is'), token(' it', { pod: 'lora-2', lora_load_ms: 100 }), 'data: [DONE]\n\n'), performance.now());
      expect(r.pod).toBe('lora-2');
      expect(r.loraLoadMs).toBe(100);
      expect(r.ttftMs).toBeGreaterThanOrEqual(0);
      expect(r.e2eMs).toBeGreaterThanOrEqual(r.ttftMs);
    });

    it.each([
      { name: 'an error event', parts: [token('a'), 'data: {"error":{"message":"boom"}}\n\n'], error: /error event: boom/ },
      { name: 'no content', parts: [token(''), 'data: [DONE]\n\n'], error: /without content/ },
    ])('fails on $name', async ({ parts, error }) => {
      await expect(readStream(chunks(...parts), performance.now())).rejects.toThrow(error);
    });
  });
});
