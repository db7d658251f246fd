import { type Issue } from '../api/validate';
import { parseInferencePoolAnnotations } from './inference-pool-annotations';
import { type PluginInstance, type SchedulerConfig } from './scheduler-config';

const ORIGIN = 'InferencePool default/vllm-app-pool';
const F = 'inference.networking.x-k8s.io/';
const E = 'inference-epp-env.networking.x-k8s.io/';

const LOAD_PLUGINS: PluginInstance[] = [
  { name: 'queue-scorer', type: 'queue-scorer', parameters: {} },
  { name: 'kv-cache-utilization-scorer', type: 'kv-cache-utilization-scorer', parameters: {} },
];
const TAIL: PluginInstance[] = [
  { name: 'single-profile-handler', type: 'single-profile-handler', parameters: {} },
  { name: 'max-score-picker', type: 'max-score-picker', parameters: { maxNumOfEndpoints: 5 } },
];
const LOAD_SCORERS = [{ plugin: 'queue-scorer', weight: 2 }, { plugin: 'kv-cache-utilization-scorer', weight: 2 }];

const prefixConfig = (hashBlockSize: number, maxPrefixBlocksToMatch: number, lru: number): SchedulerConfig => ({
  source: 'inference-pool-annotations',
  origin: ORIGIN,
  plugins: [
    ...LOAD_PLUGINS,
    { name: 'prefix-cache-scorer', type: 'prefix-cache-scorer', parameters: { hashBlockSize, maxPrefixBlocksToMatch, lruCapacityPerServer: lru, maxHashCacheSize: lru } },
    ...TAIL,
  ],
  profileHandler: 'single-profile-handler',
  profiles: [{ name: 'default', filters: [], scorers: [...LOAD_SCORERS, { plugin: 'prefix-cache-scorer', weight: 3 }], picker: 'max-score-picker' }],
});

const DEFAULTS = { engine: 'vLLM', queue: null };

const issuesOf = (r: { issues: Issue[] } | object): Issue[] => ('issues' in r ? r.issues : []);

describe('parseInferencePoolAnnotations', () => {
  it('normalises the seed example (routing-strategy PREFIX_CACHE) with the documented defaults', () => {
    expect(parseInferencePoolAnnotations({ [`${F}routing-strategy`]: 'PREFIX_CACHE' }, ORIGIN)).toEqual({ config: prefixConfig(64, 128, 50000), ...DEFAULTS });
  });

  it('runs the least-load scorers with no annotations (DEFAULT), ignoring other prefixes and epp-overlay', () => {
    const expected: SchedulerConfig = {
      source: 'inference-pool-annotations', origin: ORIGIN, plugins: [...LOAD_PLUGINS, ...TAIL], profileHandler: 'single-profile-handler',
      profiles: [{ name: 'default', filters: [], scorers: LOAD_SCORERS, picker: 'max-score-picker' }],
    };
    const annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{}', [`${F}epp-overlay`]: 'custom-epp' };
    expect(parseInferencePoolAnnotations(annotations, ORIGIN)).toEqual({ config: expected, ...DEFAULTS });
    expect(parseInferencePoolAnnotations({ [`${F}routing-strategy`]: 'DEFAULT' }, ORIGIN)).toEqual({ config: expected, ...DEFAULTS });
  });

  it('reads every supported annotation', () => {
    const r = parseInferencePoolAnnotations({
      [`${F}routing-strategy`]: 'PREFIX_CACHE',
      [`${E}prefix-cache-hash-block-size`]: '32',
      [`${E}prefix-cache-max-prefix-blocks`]: '+256',
      [`${E}prefix-cache-lru-capacity`]: '100000',
      [`${F}queueing`]: 'enabled',
      [`${E}total-queue-capacity`]: '1048576',
      [`${E}queue-ttl`]: '1m30s',
      [`${F}model-server-runtime`]: 'sglang',
    }, ORIGIN);
    expect(r).toEqual({ config: prefixConfig(32, 256, 100000), engine: 'SGLang', queue: { maxBytes: 1048576, maxRequests: 10000, ttlMs: 90000 } });
  });

  it.each([['vllm', 'vLLM'], ['SGLang', 'SGLang'], ['tgi', 'TGI']])('maps runtime %s to %s', (value, engine) => {
    expect(parseInferencePoolAnnotations({ [`${F}model-server-runtime`]: value }, ORIGIN)).toMatchObject({ engine });
  });

  const path = (key: string) => `metadata.annotations["${key}"]`;
  it.each([
    ['unknown strategy', { [`${F}routing-strategy`]: 'prefix-cache' }, `${F}routing-strategy`, /must be one of DEFAULT, PREFIX_CACHE \(got "prefix-cache"\)/],
    ['non-numeric block size', { [`${F}routing-strategy`]: 'PREFIX_CACHE', [`${E}prefix-cache-hash-block-size`]: 'sixty-four' }, `${E}prefix-cache-hash-block-size`, /positive whole number such as "64"/],
    ['zero capacity', { [`${F}queueing`]: 'enabled', [`${E}total-queue-capacity`]: '0' }, `${E}total-queue-capacity`, /positive whole number/],
    ['negative TTL', { [`${F}queueing`]: 'enabled', [`${E}queue-ttl`]: '-1.5h' }, `${E}queue-ttl`, /is negative \("-1.5h"\); .*positive duration such as 30s/],
    ['zero TTL', { [`${F}queueing`]: 'enabled', [`${E}queue-ttl`]: '0s' }, `${E}queue-ttl`, /is zero/],
    ['TTL without unit', { [`${F}queueing`]: 'enabled', [`${E}queue-ttl`]: '30' }, `${E}queue-ttl`, /must be a duration such as 30s/],
    ['queueing not a switch', { [`${F}queueing`]: 'true' }, `${F}queueing`, /must be one of enabled, disabled \(got "true"\)/],
    ['queue settings without queueing', { [`${E}queue-ttl`]: '10s' }, `${E}queue-ttl`, /only applies with inference.networking.x-k8s.io\/queueing: enabled/],
    ['prefix settings without PREFIX_CACHE', { [`${E}prefix-cache-lru-capacity`]: '10' }, `${E}prefix-cache-lru-capacity`, /only applies with .*routing-strategy: PREFIX_CACHE/],
    ['unsupported runtime', { [`${F}model-server-runtime`]: 'trt-llm' }, `${F}model-server-runtime`, /must be one of vllm, sglang, tgi \(got "trt-llm"\)/],
    ['typo in a known prefix', { [`${F}routing-stratgy`]: 'DEFAULT' }, `${F}routing-stratgy`, /unknown annotation .*supported with this prefix: .*routing-strategy/],
    ['typo in the env prefix', { [`${E}queue_ttl`]: '1s' }, `${E}queue_ttl`, /unknown annotation .*queue-ttl/],
  ])('%s', (_name, annotations, key, message) => {
    const issues = issuesOf(parseInferencePoolAnnotations(annotations as Record<string, string>, ORIGIN));
    const hit = issues.find((i) => i.path === path(key));
    if (!hit) throw new Error(`no issue at ${path(key)}: ${JSON.stringify(issues)}`);
    expect(hit.message).toMatch(message);
  });

  it('lists every problem at once', () => {
    const issues = issuesOf(parseInferencePoolAnnotations({
      [`${F}routing-strategy`]: 'FASTEST', [`${F}queueing`]: 'enabled', [`${E}queue-ttl`]: '-5s', [`${F}model-server-runtime`]: 'ollama',
    }, ORIGIN));
    expect(issues.map((i) => i.path).sort()).toEqual([path(`${E}queue-ttl`), path(`${F}model-server-runtime`), path(`${F}routing-strategy`)].sort());
  });
});
