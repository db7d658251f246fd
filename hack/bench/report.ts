/**
 * Renders benchmark results for humans: Markdown tables (pasted into docs/performance.md) and a
 * short plain-text summary for the terminal.
 */
import type { OverheadResult, PathRun, RateRow, TargetCheck } from './overhead';

/** A number for a table cell: fixed decimals, "–" for NaN/undefined so gaps are visible. */
export function cell(v: number | undefined, digits = 2): string {
  return v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits);
}

/** Markdown table from a header row and body rows; columns after the first two right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const align = header.map((_, i) => (i < 2 ? '---' : '---:'));
  return [header, align, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function signed(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '–';
  return `${v >= 0 ? '+' : ''}${v.toFixed(3)}`;
}

function latencyRow(row: RateRow, run: PathRun): string[] {
  const l = run.load.latencyMs;
  const added = row.added.find((a) => a.path === run.path);
  return [
    String(row.rate),
    run.path,
    cell(run.load.achievedRate, 0),
    cell(run.load.successPct, 2),
    cell(l.p50, 3),
    cell(l.p90, 3),
    cell(l.p99, 3),
    cell(l.max, 2),
    added ? signed(added.p50) : '',
    added ? signed(added.p99) : '',
    added ? cell(added.ratioP50, 2) : '',
    added ? cell(added.ratioP99, 2) : '',
    run.path === 'direct' ? '' : cell(run.cpu.dataplaneUsPerReq, 0),
    cell(run.cpu.engineUsPerReq, 0),
    cell(run.load.sendLagMs.p99, 2),
    cell(run.cpu.otherCpuPct, 1),
  ];
}

/** The latency section: every rate and path, then any errors. */
export function latencyMarkdown(r: Pick<OverheadResult, 'rows'>): string {
  const out = [
    'Latency is from each request\'s scheduled send time to the end of its response body (open loop), in ms. "+p50/+p99" = through-Sluice minus direct at that percentile; "×" = their ratio. CPU columns are µs of CPU (user + system, from /proc) per request of the data plane (DP) and engine simulator over the measured phase; "gen lag p99" is how late the load generator sent (charged to the server); "other CPU" is CPU used by processes outside the benchmark, as % of the machine (noise: rows with more than a few % are suspect).',
    '',
    table(
      ['Offered req/s', 'Path', 'Achieved req/s', 'OK %', 'p50', 'p90', 'p99', 'max', '+p50', '+p99', '×p50', '×p99', 'DP CPU µs/req', 'Engine CPU µs/req', 'gen lag p99', 'other CPU %'],
      r.rows.flatMap((row) => row.runs.map((run) => latencyRow(row, run))),
    ),
  ];
  const errorRuns = r.rows.flatMap((row) => row.runs.filter((run) => run.load.errorCount > 0).map((run) => `${row.rate} req/s ${run.path}: ${JSON.stringify(run.load.errors)}${run.load.firstError ? ` (first: ${run.load.firstError})` : ''}`));
  if (errorRuns.length) out.push('', 'Errors:', ...errorRuns.map((e) => `- ${e}`));
  return out.join('\n');
}

/** The full Markdown report of an overhead run. */
export function overheadMarkdown(r: OverheadResult): string {
  const s = r.settings;
  const out: string[] = [];
  out.push(machineMarkdown(r));
  out.push(`Run: ${s.durationSec} s measured + ${s.warmupSec} s warm-up per rate and path; client pool ${s.connections} connections, at most ${s.maxOutstanding} in flight; body \`${s.requestBody}\`; engine sim timeScale ${s.engine.timeScale}, profile ${JSON.stringify(s.engine.profile)}. Total ${r.totalSec} s.`);
  if (r.rows.length) out.push('', latencyMarkdown(r));
  if (r.max.length) out.push('', maxMarkdown(r));
  out.push('', 'Targets:', '');
  out.push(table(['Target', 'Limit', 'Measured', 'Met'], r.targets.map((t) => [t.name, t.limit, t.measured, t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'])));
  return out.join('\n');
}

/** The line naming the machine, how busy it was and the data-plane build measured. */
export function machineMarkdown(r: Pick<OverheadResult, 'machine' | 'build'>): string {
  return `Machine: ${r.machine.cpus} CPUs (${r.machine.cpuModel}), Node ${r.machine.node}, Linux ${r.machine.kernel}; load average at start ${r.machine.loadavgAtStart.join(' / ')}, CPU busy before start ${r.machine.busyPctAtStart}%. Data plane build: dist/dataplane sha256 ${r.build.dataplaneDistSha256} (newest file ${r.build.newestDataplaneFile}).`;
}

/** The max-throughput section: every run, then the max per path. */
export function maxMarkdown(r: Pick<OverheadResult, 'max'> & { settings: Pick<OverheadResult['settings'], 'maxP99Ms' | 'maxDurationSec' | 'warmupSec' | 'maxRates'> }): string {
  const s = r.settings;
  const method = r.max[0]!.method;
  const bound = s.maxP99Ms === null ? '' : ` and p99 ≤ ${s.maxP99Ms} ms`;
  const how = method === 'closed'
    ? `Max throughput, closed loop: N clients per path each send the next request when the previous answer ends (${s.maxDurationSec} s measured + ${s.warmupSec} s warm-up per run); a path's max is its best error-free${bound} req/s. Latencies here are per request at that concurrency (not open-loop). Cores = CPU seconds ÷ wall seconds over the measured phase (1.0 = one core busy; the data plane is single-threaded, plus a little libuv/GC thread time); Machine CPU % = all processes on all cores.`
    : `Max throughput, open loop: highest offered rate held with no errors and ≥ 95% of it achieved${bound} (${s.maxDurationSec} s measured + ${s.warmupSec} s warm-up per step; steps ${s.maxRates.join(', ')}, then bisection towards the first failure).`;
  const runs = r.max.flatMap((m) => [...m.steps].sort((a, b) => a.concurrency - b.concurrency || a.rate - b.rate).map((st) => [
    m.path,
    st.concurrency ? `${st.concurrency} clients` : `${st.rate} req/s offered`,
    cell(st.achievedRate, 0),
    String(st.errorCount),
    cell(st.p50, 2),
    cell(st.p99, 2),
    m.path === 'direct' ? '' : cell(st.cpu.cores.dataplane, 2),
    cell(st.cpu.cores.engine, 2),
    cell(st.cpu.cores.loadgen, 2),
    cell(st.cpu.machinePct, 0),
    cell(st.cpu.otherCpuPct, 1),
    st.pass ? 'yes' : 'no',
  ]));
  return [
    how,
    '',
    table(['Path', 'Load', 'Achieved req/s', 'Errors', 'p50 ms', 'p99 ms', 'DP cores', 'Engine cores', 'Loadgen cores', 'Machine CPU %', 'other CPU %', 'Counts'], runs),
    '',
    table(['Path', 'Max throughput req/s', '% of direct'], r.max.map((m) => [m.path, `${m.lowerBound ? '≥ ' : ''}${m.maxRate}`, m.path === 'direct' ? '100' : cell(m.pctOfDirect, 1)])),
  ].join('\n');
}

/** A few lines for the terminal when --markdown is not given (targets: the overhead mode's). */
export function overheadSummary(r: Pick<OverheadResult, 'rows' | 'max'> & { targets?: TargetCheck[] }): string {
  const lines = r.rows.flatMap((row) => row.added.map((a) => {
    const t = row.runs.find((x) => x.path === a.path)!.load;
    const d = row.runs.find((x) => x.path === 'direct')!.load;
    return `${String(row.rate).padStart(6)} req/s ${a.path.padEnd(21)} added p50 ${signed(a.p50)} ms  p99 ${signed(a.p99)} ms  (direct p50 ${cell(d.latencyMs.p50, 3)} / p99 ${cell(d.latencyMs.p99, 3)}; ok ${cell(t.successPct, 2)}%)`;
  }));
  for (const m of r.max) lines.push(`max throughput ${m.path.padEnd(21)} ${m.lowerBound ? '≥ ' : ''}${m.maxRate} req/s${m.path === 'direct' ? '' : ` (${cell(m.pctOfDirect, 1)}% of direct)`}`);
  for (const t of r.targets ?? []) lines.push(`target ${t.name} ${t.limit}: ${t.measured} → ${t.met === null ? 'not measured' : t.met ? 'met' : 'MISSED'}`);
  return lines.join('\n');
}
