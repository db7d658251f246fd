/**
 * Scheduler settings carried as annotations on an InferencePool, in the style of the Gateway with
 * Inference Extension (an endpoint picker built on the Gateway API Inference Extension):
 *
 *     inference.networking.x-k8s.io/routing-strategy: PREFIX_CACHE
 *     inference-epp-env.networking.x-k8s.io/prefix-cache-hash-block-size: "64"
 *
 * `inference.networking.x-k8s.io/...` annotations select features; `inference-epp-env.networking
 * .x-k8s.io/...` ones tune them (they were environment variables of the endpoint picker: the
 * prefix-cache ones are its PREFIX_CACHE_* variables, where the LRU capacity is one index shared by
 * all servers). Annotations outside these two prefixes belong to others and are ignored; an unknown
 * key inside them is most likely a typo and is reported.
 */
import { type Issue } from '../api/validate';
import { checkParameters, SLUICE_FAILOVER_DEPTH, type ParseResult } from './dialect-common';
import { lookupPluginType } from './plugin-catalog';
import { type PluginInstance, type SchedulerConfig } from './scheduler-config';
import { validateSchedulerConfig } from './validate-scheduler-config';
import { annotationPath, parseQueueAnnotations, positiveIntAnnotation, QUEUE_ANNOTATIONS } from './queue-annotations';
import { type QueueConfig } from './router-policy';

const FEATURE = 'inference.networking.x-k8s.io/';
const ENV = 'inference-epp-env.networking.x-k8s.io/';

/** The annotation keys read, by meaning. */
export const POOL_ANNOTATIONS = {
  routingStrategy: `${FEATURE}routing-strategy`,
  queueing: QUEUE_ANNOTATIONS.queueing,
  modelServerRuntime: `${FEATURE}model-server-runtime`,
  /** Names a ConfigMap overriding the endpoint picker's Deployment; Sluice runs none, so it is accepted and ignored. */
  eppOverlay: `${FEATURE}epp-overlay`,
  hashBlockSize: `${ENV}prefix-cache-hash-block-size`,
  maxPrefixBlocks: `${ENV}prefix-cache-max-prefix-blocks`,
  lruCapacity: `${ENV}prefix-cache-lru-capacity`,
  totalQueueCapacity: QUEUE_ANNOTATIONS.totalQueueCapacity,
  queueTtl: QUEUE_ANNOTATIONS.queueTtl,
} as const;

/** The defaults the annotations document. */
export const POOL_ANNOTATION_DEFAULTS = {
  routingStrategy: 'DEFAULT', hashBlockSize: 64, maxPrefixBlocks: 128, lruCapacity: 50000,
  queueing: 'disabled', totalQueueCapacityBytes: 104_857_600, queueTtlMs: 30_000, modelServerRuntime: 'vllm',
} as const;

/** Inference engines Sluice speaks to, by the runtime annotation's value. */
const RUNTIMES: Record<string, 'vLLM' | 'SGLang' | 'TGI'> = { vllm: 'vLLM', sglang: 'SGLang', tgi: 'TGI' };

/** What the annotations configure besides the scheduler. */
export interface PoolAnnotationExtras {
  engine: 'vLLM' | 'SGLang' | 'TGI';
  /** Queue settings; null when queueing is disabled. */
  queue: QueueConfig | null;
}

const pathOf = annotationPath;
const positiveInt = positiveIntAnnotation;

/** One value out of a fixed set, or an issue listing the set. */
function oneOf<T extends string>(annotations: Record<string, string>, key: string, values: readonly T[], def: T, issues: Issue[]): T {
  const raw = annotations[key];
  if (raw === undefined) return def;
  if ((values as readonly string[]).includes(raw.trim())) return raw.trim() as T;
  issues.push({ path: pathOf(key), message: `${key} must be one of ${values.join(', ')} (got ${JSON.stringify(raw)})` });
  return def;
}

/** Scheduler plugin instance with catalog-checked parameters. */
function plugin(type: string, parameters: Record<string, unknown>): PluginInstance {
  const t = lookupPluginType(type)!;
  return { name: type, type, parameters: checkParameters(t, type, parameters, '').parameters };
}

/**
 * Parses an InferencePool's annotations into a scheduler configuration, the inference engine and
 * request queueing settings, reporting every bad or unknown annotation at once
 * (`metadata.annotations["<key>"]`).
 *
 * Routing strategies (weights follow the endpoint picker's built-in default profile: queue 2,
 * KV cache 2, prefix cache 3):
 *   - DEFAULT: least load, "shortest request queue and highest GPU cache availability":
 *     queue-scorer and kv-cache-utilization-scorer.
 *   - PREFIX_CACHE: prefix-cache-scorer as well, tuned by the prefix-cache-* annotations.
 * The picker is max-score-picker returning SLUICE_FAILOVER_DEPTH endpoints (the annotations have no
 * picker setting, and Sluice's failover needs alternatives).
 */
export function parseInferencePoolAnnotations(annotations: Record<string, string>, origin: string): ParseResult<PoolAnnotationExtras> {
  const issues: Issue[] = [];
  const known = Object.values(POOL_ANNOTATIONS) as string[];
  for (const key of Object.keys(annotations)) {
    if ((key.startsWith(FEATURE) || key.startsWith(ENV)) && !known.includes(key)) {
      const family = key.startsWith(ENV) ? known.filter((k) => k.startsWith(ENV)) : known.filter((k) => k.startsWith(FEATURE));
      issues.push({ path: pathOf(key), message: `unknown annotation ${key}; check the spelling or remove it (supported with this prefix: ${family.join(', ')})` });
    }
  }

  const strategy = oneOf(annotations, POOL_ANNOTATIONS.routingStrategy, ['DEFAULT', 'PREFIX_CACHE'] as const, 'DEFAULT', issues);
  const prefixKeys = [POOL_ANNOTATIONS.hashBlockSize, POOL_ANNOTATIONS.maxPrefixBlocks, POOL_ANNOTATIONS.lruCapacity];
  const hashBlockSize = positiveInt(annotations, POOL_ANNOTATIONS.hashBlockSize, POOL_ANNOTATION_DEFAULTS.hashBlockSize, issues);
  const maxPrefixBlocks = positiveInt(annotations, POOL_ANNOTATIONS.maxPrefixBlocks, POOL_ANNOTATION_DEFAULTS.maxPrefixBlocks, issues);
  const lruCapacity = positiveInt(annotations, POOL_ANNOTATIONS.lruCapacity, POOL_ANNOTATION_DEFAULTS.lruCapacity, issues);
  if (strategy !== 'PREFIX_CACHE') {
    // Tuning a scorer that does not run is almost always a forgotten routing-strategy.
    for (const key of prefixKeys.filter((k) => annotations[k] !== undefined)) {
      issues.push({ path: pathOf(key), message: `${key} only applies with ${POOL_ANNOTATIONS.routingStrategy}: PREFIX_CACHE; set that or remove this annotation` });
    }
  }

  const queue = parseQueueAnnotations(annotations, issues);

  let engine: PoolAnnotationExtras['engine'] = 'vLLM';
  const runtime = annotations[POOL_ANNOTATIONS.modelServerRuntime];
  if (runtime !== undefined) {
    const found = RUNTIMES[runtime.trim().toLowerCase()];
    if (found) engine = found;
    else issues.push({ path: pathOf(POOL_ANNOTATIONS.modelServerRuntime), message: `${POOL_ANNOTATIONS.modelServerRuntime} must be one of ${Object.keys(RUNTIMES).join(', ')} (got ${JSON.stringify(runtime)}); Sluice supports the vLLM, SGLang and TGI engines` });
  }
  if (issues.length > 0) return { issues };

  const plugins: PluginInstance[] = [plugin('queue-scorer', {}), plugin('kv-cache-utilization-scorer', {})];
  const scorers = [{ plugin: 'queue-scorer', weight: 2 }, { plugin: 'kv-cache-utilization-scorer', weight: 2 }];
  if (strategy === 'PREFIX_CACHE') {
    // One LRU index for all servers; a per-server cap as large as it never binds first.
    plugins.push(plugin('prefix-cache-scorer', { hashBlockSize, maxPrefixBlocksToMatch: maxPrefixBlocks, lruCapacityPerServer: lruCapacity, maxHashCacheSize: lruCapacity }));
    scorers.push({ plugin: 'prefix-cache-scorer', weight: 3 });
  }
  plugins.push(plugin('single-profile-handler', {}), plugin('max-score-picker', { maxNumOfEndpoints: SLUICE_FAILOVER_DEPTH }));
  const config: SchedulerConfig = {
    source: 'inference-pool-annotations', origin, plugins, profileHandler: 'single-profile-handler',
    profiles: [{ name: 'default', filters: [], scorers, picker: 'max-score-picker' }],
  };
  const internal = validateSchedulerConfig(config);
  if (internal.length > 0) return { issues: internal };
  return { config, engine, queue };
}
