/**
 * The front door to scheduler configuration: what Sluice runs with nothing configured, and which
 * dialect a ConfigMap holds. Issues from a ConfigMap carry the key and the path inside that key's
 * text (`data.schedulerConfiguration: plugins.Score.enabled[1].weight`) so a user knows where to look.
 */
import { type Issue } from '../api/validate';
import { SLUICE_FAILOVER_DEPTH, type ParseResult } from './dialect-common';
import { parseEndpointPickerConfig } from './endpoint-picker-dialect';
import { parseKthenaRouterConfiguration, parseKthenaScheduler } from './kthena-dialect';
import { type RouterPolicy } from './router-policy-parse';
import { type SchedulerConfig } from './scheduler-config';

/**
 * The configuration Sluice runs when none is given. Kthena-like, since Sluice serves Kthena's
 * APIs: the least-request filter (endpoints with 10 or more waiting requests are dropped unless all
 * would be), then least-request, KV-cache utilisation and prefix-cache scorers at weight 1 each.
 * Kthena's built-in set scores least-latency where this has KV-cache utilisation: latency scores
 * need TTFT/TPOT history that new pods lack, while free KV cache is known from the first metrics
 * scrape and keeps long prompts away from nearly full caches. Prefix-cache and the other
 * parameters take the catalog's defaults. The picker returns SLUICE_FAILOVER_DEPTH (5) endpoints,
 * best first, as failover candidates.
 */
export function defaultSchedulerConfig(): SchedulerConfig {
  return {
    source: 'default',
    origin: 'built-in default',
    plugins: [
      { name: 'least-request', type: 'least-request', parameters: { maxWaitingRequests: 10 } },
      { name: 'kv-cache-utilization-scorer', type: 'kv-cache-utilization-scorer', parameters: {} },
      { name: 'prefix-cache-scorer', type: 'prefix-cache-scorer', parameters: { hashBlockSize: 64, maxPrefixBlocksToMatch: 256, lruCapacityPerServer: 31250 } },
      { name: 'single-profile-handler', type: 'single-profile-handler', parameters: {} },
      { name: 'max-score-picker', type: 'max-score-picker', parameters: { maxNumOfEndpoints: SLUICE_FAILOVER_DEPTH } },
    ],
    profileHandler: 'single-profile-handler',
    profiles: [{
      name: 'default',
      filters: ['least-request'],
      scorers: [
        { plugin: 'least-request', weight: 1 },
        { plugin: 'kv-cache-utilization-scorer', weight: 1 },
        { plugin: 'prefix-cache-scorer', weight: 1 },
      ],
      picker: 'max-score-picker',
    }],
  };
}

/** The ConfigMap fields read. */
export interface SchedulerConfigMap {
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

/** ConfigMap keys holding scheduler configuration, and their parsers. */
const KEYS = {
  schedulerConfiguration: parseKthenaScheduler,
  routerConfiguration: parseKthenaRouterConfiguration,
  endpointPickerConfig: parseEndpointPickerConfig,
} as const satisfies Record<string, (text: string, origin: string) => ParseResult<{ policy?: RouterPolicy }>>;

type Key = keyof typeof KEYS;

/** Advice for a ConfigMap with more than one scheduler key. */
function whichToKeep(present: Key[]): string {
  if (present.includes('endpointPickerConfig')) {
    return 'they are different dialects of the same settings; keep the one you maintain and delete the others';
  }
  return 'keep routerConfiguration if you use its auth: section (move the scheduler settings under its scheduler:), otherwise keep schedulerConfiguration';
}

/**
 * Reads the scheduler configuration from a ConfigMap: Kthena's `schedulerConfiguration` or
 * `routerConfiguration` (which may carry the router policy: `auth`, `identity`, `fairness`), or an `endpointPickerConfig` text. Exactly
 * one of these keys must be present; other keys are left to their owners.
 */
export function schedulerConfigFromConfigMap(cm: SchedulerConfigMap): ParseResult<{ policy?: RouterPolicy }> {
  const data = cm.data ?? {};
  const present = (Object.keys(KEYS) as Key[]).filter((k) => data[k] !== undefined);
  const where = `ConfigMap ${cm.metadata.namespace ? `${cm.metadata.namespace}/` : ''}${cm.metadata.name}`;
  if (present.length === 0) {
    const found = Object.keys(data);
    return { issues: [{ path: 'data', message: `${where} has no scheduler configuration; add one of the keys ${Object.keys(KEYS).join(', ')} (found ${found.length ? found.join(', ') : 'no keys'})` }] };
  }
  if (present.length > 1) {
    return { issues: [{ path: 'data', message: `${where} has ${present.join(' and ')}, but only one scheduler configuration key may be set: ${whichToKeep(present)}` }] };
  }
  const key = present[0]!;
  const result = KEYS[key](data[key]!, `${where} key ${key}`);
  if ('issues' in result) {
    return { issues: result.issues.map((i: Issue) => ({ path: i.path ? `data.${key}: ${i.path}` : `data.${key}`, message: i.message })) };
  }
  return result;
}
