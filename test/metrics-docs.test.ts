/**
 * Every metric family the data plane exports is in docs/observability.md's table, with its type,
 * and every family the table names exists: a new metric without a line of docs, or a renamed one,
 * fails here. Node's default process families are documented by prefix.
 */
import { dataplaneFamilies, documentedMetrics } from './helpers/metric-families';

describe('docs/observability.md metrics table', () => {
  it('documents every exported family with its type', async () => {
    const exported = await dataplaneFamilies();
    const documented = documentedMetrics();
    const exact = new Map(documented.filter((d) => !d.prefix).map((d) => [d.name, d.type]));
    const prefixes = documented.filter((d) => d.prefix).map((d) => d.name);
    const undocumented = [...exported.keys()].filter((name) => !exact.has(name) && !prefixes.some((p) => name.startsWith(p)));
    expect(undocumented).toEqual([]);
    const wrongType = [...exact].filter(([name, type]) => exported.has(name) && exported.get(name) !== type).map(([name, type]) => `${name}: doc ${type}, exported ${exported.get(name)}`);
    expect(wrongType).toEqual([]);
  });

  it('names no family the data plane does not export', async () => {
    const exported = [...(await dataplaneFamilies()).keys()];
    const documented = documentedMetrics();
    expect(documented.length).toBeGreaterThan(10);
    const stale = documented.filter((d) => (d.prefix ? !exported.some((n) => n.startsWith(d.name)) : !exported.includes(d.name))).map((d) => d.name);
    expect(stale).toEqual([]);
  });

  it('has the default process metrics under sluice_process_ and sluice_nodejs_, prefixed once', async () => {
    const exported = [...(await dataplaneFamilies()).keys()];
    expect(exported).toContain('sluice_process_cpu_seconds_total');
    expect(exported).toContain('sluice_nodejs_eventloop_lag_seconds');
    expect(exported.filter((n) => n.startsWith('sluice_process_process_') || n.startsWith('sluice_process_nodejs_'))).toEqual([]);
  });
});
