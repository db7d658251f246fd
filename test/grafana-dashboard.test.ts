/**
 * manifests/grafana/sluice-dashboard.json is a Grafana dashboard whose queries can all return
 * data: it parses, every panel reads the dashboard's Prometheus datasource variable and has
 * queries, and every metric name in a PromQL expression (panels and template variables) is a
 * family the data plane exports (the operator exports none), allowing the `_bucket`, `_sum` and
 * `_count` series of histograms. A renamed metric breaks this test instead of a panel.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataplaneFamilies } from './helpers/metric-families';
import { ROOT } from './helpers/processes';

interface Target { expr?: string; refId?: string; datasource?: { type?: string; uid?: string } }
interface Panel { id?: number; type: string; title?: string; datasource?: { type?: string; uid?: string }; targets?: Target[]; gridPos?: Record<string, number> }
interface Variable { name: string; type: string; query?: unknown; datasource?: { uid?: string } }
interface Dashboard { title: string; uid: string; panels: Panel[]; templating: { list: Variable[] } }

const dashboard = JSON.parse(readFileSync(join(ROOT, 'manifests', 'grafana', 'sluice-dashboard.json'), 'utf8')) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const DS_UID = '${datasource}';

/** PromQL words that are not metric names: functions, aggregations, keywords. */
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'by', 'without', 'on', 'ignoring',
  'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'rate', 'irate', 'increase', 'delta', 'deriv',
  'histogram_quantile', 'clamp_min', 'clamp_max', 'abs', 'changes', 'resets', 'label_values', 'vector', 'time',
]);

/**
 * Metric names in a PromQL expression: what is left once strings, label matchers (`{...}`),
 * ranges (`[...]`), grouping lists (`by (...)`) and numbers are removed, minus PromQL's own words.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/(?<![\w:])\d+(\.\d+)?(e[+-]?\d+)?/gi, ' ');
  return [...bare.matchAll(/[a-zA-Z_:][\w:]*/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w));
}

/** Every expression in the dashboard, with where it is. */
function expressions(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const p of panels) for (const t of p.targets ?? []) out.push([`panel ${JSON.stringify(p.title)} ${t.refId}`, t.expr ?? '']);
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string }).query ?? '';
    const inner = /^label_values\((.*),\s*\w+\)$/.exec(q);
    out.push([`variable ${v.name}`, inner ? inner[1]! : q]);
  }
  return out;
}

describe('manifests/grafana/sluice-dashboard.json', () => {
  it('has a Prometheus datasource variable that every panel and query reads', () => {
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    expect(panels.length).toBeGreaterThan(10);
    const problems = panels.flatMap((p) => {
      const where = `panel ${JSON.stringify(p.title)}`;
      const out: string[] = [];
      if (p.datasource?.uid !== DS_UID) out.push(`${where}: datasource is not ${DS_UID}`);
      if (!p.targets?.length) out.push(`${where}: no targets`);
      for (const t of p.targets ?? []) {
        if (!t.expr?.trim() || !t.refId) out.push(`${where}: a target without expr or refId`);
        if (t.datasource && t.datasource.uid !== DS_UID) out.push(`${where} ${t.refId}: target datasource is not ${DS_UID}`);
      }
      if (!p.gridPos || !(p.gridPos.w! > 0 && p.gridPos.h! > 0)) out.push(`${where}: no gridPos`);
      return out;
    });
    expect(problems).toEqual([]);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('uses only metric families the data plane exports', async () => {
    const families = await dataplaneFamilies();
    const known = (name: string) => families.has(name)
      || ['_bucket', '_sum', '_count'].some((s) => name.endsWith(s) && families.get(name.slice(0, -s.length)) === 'histogram');
    const unknown = expressions().flatMap(([where, expr]) => {
      const names = metricNames(expr);
      return names.length === 0 ? [`${where}: no metric name in ${expr}`] : names.filter((n) => !known(n)).map((n) => `${where}: ${n}`);
    });
    expect(unknown).toEqual([]);
  });

  it('shows what issue 12 asks for', () => {
    const used = new Set(expressions().flatMap(([, e]) => metricNames(e)));
    for (const name of ['sluice_requests_total', 'sluice_errors_total', 'sluice_time_to_first_token_seconds_bucket', 'sluice_inter_token_latency_seconds_bucket',
      'sluice_upstream_response_headers_seconds_bucket', 'sluice_queue_requests', 'sluice_queue_wait_seconds_bucket', 'sluice_queue_outcomes_total',
      'sluice_ratelimit_decisions_total', 'sluice_scheduler_filter_bypasses_total', 'sluice_tokenize_duration_seconds_bucket', 'sluice_snapshot_version']) {
      expect(used).toContain(name);
    }
    expect(JSON.stringify(dashboard)).toContain('histogram_quantile(0.99, sum by (le, server) (rate(sluice_time_to_first_token_seconds_bucket');
  });

  it.each([
    ['sum by (code) (rate(sluice_requests_total{code=~"5..",route=~"$route"}[$__rate_interval]))', ['sluice_requests_total']],
    ['histogram_quantile(0.9, sum by (le, server) (rate(x_bucket[5m]))) / 1e9', ['x_bucket']],
    ['max by (pod, instance) (up) or on (pod) vector(0)', ['up']],
  ])('finds the metric names in %s', (expr, want) => {
    expect(metricNames(expr)).toEqual(want);
  });
});
