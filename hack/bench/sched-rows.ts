/**
 * The scheduler configurations the scheduling benchmark compares (the rows of the seed's table),
 * each written as the Kthena router ConfigMap an operator would put in the watched folder.
 *
 * Every row keeps Kthena's default Filter (least-request, maxWaitingRequests 10) and changes only
 * the Score section, which is how the seed's configurations differ. One difference in meaning:
 * the seed's best row, "Least Request + KVCacheAware", used Kthena's KVCacheAware plugin, which
 * tokenises the prompt and looks its 128-token blocks up in a Redis index of which pod holds them:
 * a prefix-affinity plugin. In Sluice (as in Kthena's config dialect) `kv-cache` is the KV-cache
 * *utilisation* scorer (= gpu-usage); the approximate prefix-affinity plugin is `prefix-cache`
 * (row lr-prefix, which guesses from where requests went) and the precise one, the seed's own, is
 * `kvcache-aware` (row lr-precise, below).
 *
 * prefix-cache parameters: blockSizeToHash 64 characters and maxBlocksToMatch 128 (Kthena's
 * defaults) hash the first 8192 characters of a prompt (~1.6k tokens of the Qwen3 vocabulary's
 * 5.0 characters per token, ~1.8k of the stand-in's 4.5): all inside the 4096-token system prompt
 * of the long workload (so the score says "this pod served the group" and nothing else), and the
 * whole 384-token prompt of the short one (system part ~20 of ~30 blocks).
 * maxHashCacheSize 100000 (Kthena's default is 50000; it is one limit split across the pods):
 * ~33k block hashes per pod remember ~260 long-workload groups, more than a replica's KV cache
 * holds (~160 prefixes), so the index is never the first to forget.
 *
 * lr-precise is the seed's best row as Kthena names it: `kvcache-aware`, which Sluice runs as the
 * precise-prefix-cache-scorer. It scores the share of a prompt's leading token blocks a pod's KV
 * cache holds, learnt from the engines' own KV events (ZeroMQ) rather than from where requests
 * went. blockSizeToHash 128 is the simulated engine's block size (the seed's); Sluice takes the
 * block size from the events and accepts the argument for Kthena compatibility. maxBlocksToMatch
 * 128 blocks × 128 tokens = 16k tokens cover every prompt of both workloads.
 */
import { schedulerConfigFromConfigMap } from '../../shared/config/scheduler-config-source';
import type { SchedulerConfig } from '../../shared/config/scheduler-config';

/** One benchmark row: a name for flags, a label for tables, and the Score plugins. */
export interface SchedRow {
  name: string;
  label: string;
  scorers: { plugin: string; weight: number }[];
  /** Plugin arguments on top of the defaults below, by Kthena plugin name. */
  args?: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** homeScore of the approximate row that tries the prompt's rendezvous home (dataplane/scheduler/home-affinity.ts); kvcache-aware's default. */
export const HOME_SCORE = 0.2;

/** The seed's six configurations, in its order of presentation. */
export const ROWS: readonly SchedRow[] = [
  { name: 'random', label: 'Random', scorers: [{ plugin: 'random', weight: 1 }] },
  { name: 'least-request', label: 'Least Request', scorers: [{ plugin: 'least-request', weight: 1 }] },
  { name: 'least-latency', label: 'Least Latency', scorers: [{ plugin: 'least-latency', weight: 1 }] },
  { name: 'gpu-usage', label: 'GPU Usage', scorers: [{ plugin: 'gpu-usage', weight: 1 }] },
  { name: 'lr-prefix', label: 'Least Request + Prefix Cache', scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'prefix-cache', weight: 1 }] },
  { name: 'lr-kv', label: 'Least Request + KV Cache', scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'kv-cache', weight: 1 }] },
  { name: 'lr-precise', label: 'Least Request + KVCacheAware (precise)', scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'kvcache-aware', weight: 1 }] },
  // Not the seed's: the approximate row with a rendezvous home (replicas agree on new prompts), the precise one without.
  { name: 'lr-prefix-home', label: `Least Request + Prefix Cache, home ${HOME_SCORE}`, scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'prefix-cache', weight: 1 }], args: { 'prefix-cache': { homeScore: HOME_SCORE } } },
  // kvcache-aware's homeScore defaults to 0.2; this row turns it off (it was measured as lr-precise before that default).
  { name: 'lr-precise-nohome', label: 'Least Request + KVCacheAware (precise), no home', scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'kvcache-aware', weight: 1 }], args: { 'kvcache-aware': { homeScore: 0 } } },
];

/** prefix-cache arguments (see the file header). */
export const PREFIX_ARGS = { blockSizeToHash: 64, maxBlocksToMatch: 128, maxHashCacheSize: 100000 } as const;

/** kvcache-aware arguments (see the file header). */
export const PRECISE_ARGS = { blockSizeToHash: 128, maxBlocksToMatch: 128 } as const;

/** Plugin arguments each row writes into pluginConfig, by Kthena plugin name (least-request's is always written). */
const PLUGIN_ARGS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  'prefix-cache': PREFIX_ARGS,
  'kvcache-aware': PRECISE_ARGS,
};

/** Whether a row's scheduler reads the engines' KV events (so its data planes subscribe to them). */
export function usesKvEvents(row: SchedRow): boolean {
  return row.scorers.some((s) => s.plugin === 'kvcache-aware');
}

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
  for (const s of row.scorers) {
    const args = PLUGIN_ARGS[s.plugin] || row.args?.[s.plugin] ? { ...PLUGIN_ARGS[s.plugin], ...row.args?.[s.plugin] } : undefined;
    if (args) lines.push(`- name: ${s.plugin}`, '  args:', ...Object.entries(args).map(([k, v]) => `    ${k}: ${v}`));
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
