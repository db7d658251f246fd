/**
 * Renders a scheduling run: Markdown tables per workload (the seed's columns plus what explains
 * them), the target check, and a hand-written SVG bar chart (no dependency).
 */
import { cell, table } from './report';
import type { RowResult, SchedulingResult } from './scheduling';

/** The seed's best-row figures (Kthena, long system prompt, vs Random). */
export const TARGET_THROUGHPUT_RATIO = 2.73;
export const TARGET_TTFT_REDUCTION_PCT = 73.5;

/** Row results of one workload, with ratios to its Random row. */
export interface RatedRow extends RowResult {
  /** throughput ÷ Random's throughput. */
  throughputRatio: number;
  /** (TTFT − Random's TTFT) ÷ Random's TTFT, % (negative = better). */
  ttftChangePct: number;
}

/** Adds ratios to Random (NaN when the workload has no Random row). */
export function rateRows(rows: RowResult[]): RatedRow[] {
  const base = rows.find((r) => r.row === 'random');
  return rows.map((r) => ({
    ...r,
    throughputRatio: base ? r.throughput / base.throughput : NaN,
    ttftChangePct: base ? (100 * (r.meanTtftSec - base.meanTtftSec)) / base.meanTtftSec : NaN,
  }));
}

function signedPct(v: number): string {
  return Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;
}

/** The main table of one workload. */
export function workloadTable(rows: RatedRow[]): string {
  return table(
    ['Configuration', 'Data planes', 'Success %', 'Throughput req/s', 'Mean latency s', 'Mean TTFT s', 'p99 TTFT s', 'Throughput × Random', 'TTFT vs Random', 'TTFT after the first burst s', 'Prefix hit %', 'Pods per group', 'Requests per pod', 'Preemptions', 'other CPU % (niced)'],
    rows.map((r) => [
      r.label,
      String(r.dataplanes),
      cell(r.successPct, 1),
      cell(r.throughput, 2),
      cell(r.meanLatencySec, 2),
      cell(r.meanTtftSec, 3),
      cell(r.p99TtftSec, 2),
      cell(r.throughputRatio, 2),
      signedPct(r.ttftChangePct),
      cell(r.steadyMeanTtftSec, 3),
      cell(r.hitRatePct, 1),
      cell(r.podsPerGroup, 2),
      r.pods.map((p) => p.served).join(' / '),
      String(r.pods.reduce((a, p) => a + p.preemptions, 0)),
      `${cell(r.cpu.otherCpuPct, 1)} (${cell(r.cpu.otherNicePct, 1)})`,
    ]),
  );
}

/** How faithfully each row ran: engine vs client TTFT, clock lag, CPU, timing. */
export function fidelityTable(rows: RatedRow[]): string {
  return table(
    ['Configuration', 'Client mean TTFT s', 'Engine mean TTFT s', 'Hit % per pod', 'Sim clock mean / max lag ms (wall)', 'Clock resyncs (lost wall ms)', 'Client max lag ms (wall)', 'DP cores (per replica)', 'Prompt-length mismatches', 'KV-event batches (live subs, gaps)', 'Engine cores', 'Client cores', 'Machine CPU %', 'Busy before %', 'Simulated s', 'Wall s', 'Attempt'],
    rows.map((r) => [
      r.label,
      cell(r.meanTtftSec, 3),
      cell(r.engineMeanTtftSec, 3),
      r.pods.map((p) => cell(p.hitRatePct, 0)).join(' / '),
      `${cell(Math.max(...r.pods.map((p) => p.clock.meanLagWallMs)), 1)} / ${cell(Math.max(...r.pods.map((p) => p.clock.maxLagWallMs)), 0)}`,
      `${r.pods.reduce((a, p) => a + p.clock.resyncs, 0)} (${cell(r.pods.reduce((a, p) => a + p.clock.lostWallMs, 0), 0)})`,
      cell(r.clientMaxLagWallMs, 1),
      // Summed over the replicas; each one's in brackets when there are several.
      r.cpu.dataplaneEach.length > 1 ? `${cell(r.cpu.dataplane, 2)} (${r.cpu.dataplaneEach.map((c) => cell(c, 2)).join(' + ')})` : cell(r.cpu.dataplane, 2),
      String(r.promptTokenMismatches),
      r.kvEvents ? `${r.kvEvents.batches} (${r.kvEvents.live}/${r.kvEvents.subscriptions}, ${r.kvEvents.gaps})` : '–',
      cell(r.cpu.engine, 2),
      cell(r.cpu.client, 2),
      cell(r.cpu.machinePct, 0),
      cell(r.before.busyPct, 1),
      cell(r.durationSimSec, 0),
      cell(r.durationWallSec, 0),
      r.attempt === 1 ? '1' : `2 (first: ${cell(r.discardedOtherCpuPct, 0)}% other CPU)`,
    ]),
  );
}

/** Best row by throughput and whether it meets the seed's figures (long workload). */
export function targetCheck(rows: RatedRow[]): { best: RatedRow | undefined; throughputMet: boolean | null; ttftMet: boolean | null } {
  const candidates = rows.filter((r) => r.row !== 'random' && !Number.isNaN(r.throughputRatio));
  const best = candidates.sort((a, b) => b.throughput - a.throughput)[0];
  if (!best) return { best: undefined, throughputMet: null, ttftMet: null };
  return { best, throughputMet: best.throughputRatio >= TARGET_THROUGHPUT_RATIO, ttftMet: -best.ttftChangePct >= TARGET_TTFT_REDUCTION_PCT };
}

/** The Markdown report of a run. */
export function schedulingMarkdown(r: SchedulingResult): string {
  const out: string[] = [];
  const p = r.engine.profile;
  out.push(`Machine: ${r.machine.cpus} CPUs, Node ${r.machine.node}, Linux ${r.machine.kernel}. Data plane build: dist/dataplane sha256 ${r.build.dataplaneDistSha256} (newest file ${r.build.newestDataplaneFile}). Run started ${r.startedAt}, took ${r.totalSec} s.`);
  out.push('');
  const vocab = r.vocabulary ? `; prompts of ${r.vocabulary.words} single-token words ("\\n\\n" = ${r.vocabulary.separatorTokens} token)` : '';
  out.push(`Engines and router tokenize with ${r.settings.simTokenizer}${vocab}; every pod publishes KV events. Data planes per row: ${r.settings.dataplanes}.`);
  out.push('');
  out.push(`Engine (each of 3 pods): ${r.engine.kv.blocks} KV blocks × ${p.blockSize} = ${r.engine.kv.tokens} tokens (${r.settings.gpuGiB} GiB device), profile ${JSON.stringify(p)}. Offered ${r.settings.rate} req/s, at most ${r.settings.concurrency} in flight; data-plane scrape every ${r.settings.scrapeIntervalSimMs} simulated ms.`);
  for (const w of Object.keys(r.workloads)) {
    const rows = rateRows(r.rows.filter((x) => x.workload === w));
    if (!rows.length) continue;
    const s = r.workloads[w]!;
    out.push('', `### ${w === 'long' ? 'Long' : w === 'short' ? 'Short' : w} system prompt (${s.systemTokens} tokens)`, '');
    out.push(`${s.groups} groups × ${s.perGroup} requests, ${s.questionTokens}-token questions, ${s.outputTokens} output tokens; time scale ${r.settings.timeScale[w as 'long' | 'short']}. Throughput and times in simulated time.`, '');
    out.push(workloadTable(rows), '');
    out.push('Fidelity:', '', fidelityTable(rows));
    const errs = rows.filter((x) => x.ok < x.requests);
    if (errs.length) out.push('', 'Errors:', ...errs.map((x) => `- ${x.label}: ${JSON.stringify(x.errors)}${x.firstError ? ` (first: ${x.firstError})` : ''}`));
    const t = targetCheck(rows);
    if (w === 'long' && t.best) {
      out.push('', table(['Target (seed, long prompt, best vs Random)', 'Limit', 'Measured', 'Met'], [
        ['throughput', `≥ ${TARGET_THROUGHPUT_RATIO}×`, `${t.best.throughputRatio.toFixed(2)}× (${t.best.label})`, t.throughputMet ? 'yes' : '**no**'],
        ['mean TTFT', `≥ ${TARGET_TTFT_REDUCTION_PCT}% lower`, `${Math.abs(t.best.ttftChangePct).toFixed(1)}% ${t.best.ttftChangePct <= 0 ? 'lower' : 'higher'} (${t.best.label})`, t.ttftMet ? 'yes' : '**no**'],
      ]));
    }
  }
  return out.join('\n');
}

/** A few lines for the terminal. */
export function schedulingSummary(r: SchedulingResult): string {
  const lines: string[] = [];
  for (const w of Object.keys(r.workloads)) {
    for (const x of rateRows(r.rows.filter((y) => y.workload === w))) {
      lines.push(`${w.padEnd(5)} ${x.label.padEnd(38)} ${x.dataplanes} DP ${x.throughput.toFixed(2).padStart(7)} req/s (×${cell(x.throughputRatio, 2)})  TTFT ${x.meanTtftSec.toFixed(3)} s (${signedPct(x.ttftChangePct)})  hit ${x.hitRatePct}%  pods/group ${x.podsPerGroup}  DP cores ${x.cpu.dataplane}  ok ${x.successPct}%`);
    }
  }
  return lines.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A bar chart: one panel per workload × metric (throughput, mean TTFT), horizontal bars per row.
 * Plain SVG 1.1 with inline attributes, readable in a browser and on GitHub.
 */
export function schedulingSvg(r: SchedulingResult): string {
  const workloads = Object.keys(r.workloads).filter((w) => r.rows.some((x) => x.workload === w));
  const labels = [...new Set(r.rows.map((x) => x.label))];
  const barH = 18;
  const gap = 6;
  const labelW = 210;
  const panelW = 460;
  const plotW = panelW - labelW - 70;
  const headH = 34;
  const panelH = headH + labels.length * (barH + gap) + 10;
  const width = 2 * panelW + 20;
  const titleH = 40;
  const height = titleH + workloads.length * (panelH + 16) + 24;
  const colors: Record<string, string> = { throughput: '#3b7dd8', ttft: '#d8743b' };
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="10" y="24" font-size="15" font-weight="bold">Scheduling benchmark: 3 simulated vLLM pods, generated-shared-prefix workload (simulated time)</text>`);
  workloads.forEach((w, wi) => {
    const rows = r.rows.filter((x) => x.workload === w);
    const s = r.workloads[w]!;
    const metrics: { key: 'throughput' | 'ttft'; title: string; value: (x: RowResult) => number; unit: string; digits: number }[] = [
      { key: 'throughput', title: `${w} prompt (${s.systemTokens} tokens): throughput, req/s (higher is better)`, value: (x) => x.throughput, unit: '', digits: 1 },
      { key: 'ttft', title: `${w} prompt: mean TTFT, s (lower is better)`, value: (x) => x.meanTtftSec, unit: ' s', digits: 2 },
    ];
    metrics.forEach((m, mi) => {
      const x0 = 10 + mi * (panelW + 10);
      const y0 = titleH + wi * (panelH + 16);
      const max = Math.max(...rows.map(m.value).filter((v) => Number.isFinite(v)), 1e-9);
      parts.push(`<rect x="${x0}" y="${y0}" width="${panelW}" height="${panelH}" fill="#f7f7f7" stroke="#dddddd"/>`);
      parts.push(`<text x="${x0 + 8}" y="${y0 + 20}" font-weight="bold">${esc(m.title)}</text>`);
      labels.forEach((label, li) => {
        const row = rows.find((x) => x.label === label);
        const y = y0 + headH + li * (barH + gap);
        parts.push(`<text x="${x0 + labelW - 6}" y="${y + barH - 5}" text-anchor="end">${esc(label)}</text>`);
        if (!row) return;
        const v = m.value(row);
        const wBar = Number.isFinite(v) ? Math.max(1, (v / max) * plotW) : 0;
        parts.push(`<rect x="${x0 + labelW}" y="${y}" width="${wBar.toFixed(1)}" height="${barH}" fill="${row.row === 'random' ? '#999999' : colors[m.key]}"/>`);
        parts.push(`<text x="${(x0 + labelW + wBar + 4).toFixed(1)}" y="${y + barH - 5}">${Number.isFinite(v) ? v.toFixed(m.digits) : '–'}${m.unit}</text>`);
      });
    });
  });
  parts.push(`<text x="10" y="${height - 8}" fill="#555555">Grey = Random (baseline). Source: node dist/hack/bench/main.js scheduling; numbers in docs/performance.md.</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
