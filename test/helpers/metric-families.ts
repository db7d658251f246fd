/**
 * Metric family names, as exported and as documented, for the tests that keep docs/observability.md
 * and the Grafana dashboard honest. The exported ones come from the data plane's real registry
 * (its `# TYPE` lines, present from start even for families with no sample yet).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataplaneMetrics } from '../../dataplane/server/metrics';
import { ROOT } from './processes';

/** Family names in a Prometheus text exposition, from its `# TYPE` lines. */
export function familiesIn(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!);
}

/** The families a fresh data plane exports, with their types. */
export async function dataplaneFamilies(): Promise<Map<string, string>> {
  const text = await new DataplaneMetrics().registry.metrics();
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** One row of the metrics table in docs/observability.md. */
export interface DocumentedMetric {
  /** A family name, or a prefix when `prefix` is true (`sluice_process_*`). */
  name: string;
  prefix: boolean;
  /** The type column (empty for prefix rows). */
  type: string;
}

/** The rows of the metrics table in docs/observability.md (first cell: backquoted names). */
export function documentedMetrics(): DocumentedMetric[] {
  const doc = readFileSync(join(ROOT, 'docs', 'observability.md'), 'utf8');
  const section = doc.slice(doc.indexOf('| metric | type | labels | meaning |'));
  const rows = section.slice(0, section.search(/\n\n/)).split('\n').slice(2);
  return rows.flatMap((row) => {
    const cells = row.split('|').map((c) => c.trim());
    return [...cells[1]!.matchAll(/`([^`]+)`/g)].map((m) => {
      const prefix = m[1]!.endsWith('*');
      return { name: prefix ? m[1]!.slice(0, -1) : m[1]!, prefix, type: cells[2]! };
    });
  });
}
