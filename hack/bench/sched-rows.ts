/**
 * The scheduler configurations the scheduling benchmark compares (the rows of the seed's table),
 * each written as the Kthena router ConfigMap an operator would put in the watched folder.
 *
 * Every row keeps Kthena's default Filter (least-request, maxWaitingRequests 10) and changes only
 * the Score section, which is how the seed's configurations differ. One difference in meaning:
 * the seed's best row, "Least Request + KVCacheAware", used Kthena's KVCacheAware plugin, which
 * tokenises the prompt and looks its 128-token blocks up in a Redis index of which pod holds them:
 * a prefix-affinity plugin. In Sluice (as in Kthena's config dialect) `kv-cache` is the KV-cache
 * *utilisation* scorer (= gpu-usage); the prefix-affinity plugin is `prefix-cache`. So the row to
 * compare with the seed's best is "Least Request + Prefix Cache".
 *
 * prefix-cache parameters: blockSizeToHash 64 characters and maxBlocksToMatch 128 (Kthena's
 * defaults) hash the first 8192 characters (~1.8k tokens) of a prompt: all inside the 4096-token
 * system prompt of the long workload (so the score says "this pod served the group" and nothing
 * else), and the whole 384-token prompt of the short one (system part 18 of 27 blocks).
 * maxHashCacheSize 100000 (Kthena's default is 50000; it is one limit split across the pods):
 * ~33k block hashes per pod remember ~260 long-workload groups, more than a replica's KV cache
 * holds (~160 prefixes), so the index is never the first to forget.
 */
import { schedulerConfigFromConfigMap } from '../../shared/config/scheduler-config-source';
import type { SchedulerConfig } from '../../shared/config/scheduler-config';

/** One benchmark row: a name for flags, a label for tables, and the Score plugins. */
export interface SchedRow {
  name: string;
  label: string;
  scorers: { plugin: string; weight: number }[];
}

/** The seed's six configurations, in its order of presentation. */
export const ROWS: readonly SchedRow[] = [
  { name: 'random', label: 'Random', scorers: [{ plugin: 'random', weight: 1 }] },
  { name: 'least-request', label: 'Least Request', scorers: [{ plugin: 'least-request', weight: 1 }] },
  { name: 'least-latency', label: 'Least Latency', scorers: [{ plugin: 'least-latency', weight: 1 }] },
  { name: 'gpu-usage', label: 'GPU Usage', scorers: [{ plugin: 'gpu-usage', weight: 1 }] },
  { name: 'lr-prefix', label: 'Least Request + Prefix Cache', scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'prefix-cache', weight: 1 }] },
  { name: 'lr-kv', label: 'Least Request + KV Cache', scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'kv-cache', weight: 1 }] },
];

/** prefix-cache arguments (see the file header). */
export const PREFIX_ARGS = { blockSizeToHash: 64, maxBlocksToMatch: 128, maxHashCacheSize: 100000 } as const;

/** Looks rows up by name; throws listing the known names. */
export function selectRows(names: readonly string[]): SchedRow[] {
  return names.map((n) => {
    const row = ROWS.find((r) => r.name === n);
    if (!row) throw new Error(`unknown row ${JSON.stringify(n)}; known rows: ${ROWS.map((r) => r.name).join(', ')}`);
    return row;
  });
}

/** The Kthena `schedulerConfiguration` text of a row. */
export function kthenaSchedulerText(row: SchedRow): string {
  const lines = ['pluginConfig:', '- name: least-request', '  args:', '    maxWaitingRequests: 10'];
  if (row.scorers.some((s) => s.plugin === 'prefix-cache')) {
    lines.push('- name: prefix-cache', '  args:', ...Object.entries(PREFIX_ARGS).map(([k, v]) => `    ${k}: ${v}`));
  }
  lines.push('plugins:', '  Filter:', '    enabled:', '    - least-request', '  Score:', '    enabled:');
  for (const s of row.scorers) lines.push(`    - name: ${s.plugin}`, `      weight: ${s.weight}`);
  return lines.join('\n');
}

/** The ConfigMap (YAML) the operator reads for a row: Kthena's router-wide config name. */
export function configMapYaml(row: SchedRow, namespace = 'default'): string {
  const body = kthenaSchedulerText(row).split('\n').map((l) => `    ${l}`).join('\n');
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: kthena-router-config
  namespace: ${namespace}
data:
  schedulerConfiguration: |-
${body}
`;
}

/** The normalised configuration Sluice compiles from a row's ConfigMap (throws on issues). */
export function rowSchedulerConfig(row: SchedRow): SchedulerConfig {
  const r = schedulerConfigFromConfigMap({ metadata: { name: 'kthena-router-config', namespace: 'default' }, data: { schedulerConfiguration: kthenaSchedulerText(row) } });
  if ('issues' in r) throw new Error(`row ${row.name}: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return r.config;
}
