/**
 * Every scheduler plugin type Sluice knows: its canonical name, the names both dialects use for
 * it, what it can act as (filter, scorer, picker, profile handler) and its parameters with
 * defaults. Config parsers check types and parameters against this catalog, so a typo is a
 * configuration error with the plugin and field named; the data plane's registry has one factory
 * per entry (a contract test keeps the two in step).
 */
import { Type, type TSchema } from '@sinclair/typebox';

/** What a plugin can be used as in a profile. */
export type PluginRole = 'filter' | 'scorer' | 'picker' | 'profile-handler';

/** One catalog entry. */
export interface PluginType {
  /** Canonical type name. */
  readonly type: string;
  /** Other names that resolve to it (Kthena and endpoint-picker spellings). */
  readonly aliases: readonly string[];
  /** Roles it can play. */
  readonly roles: readonly PluginRole[];
  /** Parameter schema; defaults in it are applied when a config is normalised. */
  readonly parameters: TSchema;
  /** One line for docs and error messages. */
  readonly summary: string;
}

const none = Type.Object({}, { additionalProperties: false });

const int = (description: string, def: number, min = 0) => Type.Integer({ description, default: def, minimum: min });

/** The catalog, in documentation order. */
export const PLUGIN_TYPES: readonly PluginType[] = [
  {
    type: 'least-request', aliases: [], roles: ['filter', 'scorer'],
    summary: 'filters out endpoints with more than maxWaitingRequests waiting; scores fewer running + waiting + in-flight requests higher',
    parameters: Type.Object({ maxWaitingRequests: int('Filter: endpoints with more waiting requests are dropped (unless all would be).', 10) }, { additionalProperties: false }),
  },
  {
    type: 'queue-scorer', aliases: [], roles: ['scorer'],
    summary: 'scores a shorter waiting queue higher (min-max normalised across candidates)',
    parameters: none,
  },
  {
    type: 'kv-cache-utilization-scorer', aliases: ['kv-cache', 'gpu-usage', 'kv-cache-scorer'], roles: ['scorer'],
    summary: 'scores more free KV cache higher: 1 - kv_cache_usage',
    parameters: none,
  },
  {
    type: 'least-latency', aliases: [], roles: ['scorer'],
    summary: 'scores lower recent TTFT and TPOT higher, mixed by TTFTTPOTWeightFactor',
    parameters: Type.Object({ TTFTTPOTWeightFactor: Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'Weight of TTFT against TPOT (TPOT gets 1 minus it).' }) }, { additionalProperties: false }),
  },
  {
    type: 'prefix-cache-scorer', aliases: ['prefix-cache'], roles: ['scorer'],
    summary: 'scores the share of the prompt\'s leading blocks an endpoint served before (and so likely holds in its KV cache)',
    parameters: Type.Object({
      hashBlockSize: int('Characters per hashed prompt block.', 64, 1),
      maxPrefixBlocksToMatch: int('Leading blocks considered at most.', 256, 1),
      lruCapacityPerServer: int('Block hashes remembered per endpoint (LRU).', 31250, 1),
      maxHashCacheSize: Type.Optional(Type.Integer({ minimum: 1, description: 'Block hashes remembered across all endpoints (Kthena); unset means no global cap.' })),
      homeScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Least score of a prompt\'s home endpoint (rendezvous hash of its first blocks over the endpoints), so replicas that have not seen a prompt yet agree where it goes; unset or 0 turns it off.' })),
    }, { additionalProperties: false }),
  },
  {
    type: 'precise-prefix-cache-scorer', aliases: ['kvcache-aware'], roles: ['scorer'],
    summary: 'scores the share of the prompt\'s leading token blocks an engine reports holding in its KV cache (vLLM KV events); endpoints without live events are scored by the approximate prefix index',
    parameters: Type.Object({
      maxPrefixBlocksToMatch: int('Leading token blocks considered at most (block size is the engine\'s, from its events).', 256, 1),
      fallback: Type.Union([Type.Literal('approximate'), Type.Literal('none')], { default: 'approximate', description: 'How to score an endpoint whose events are not live (never published, or a gap that could not be replayed): approximate = the prefix-cache-scorer\'s index of where requests went; none = 0.' }),
      approximateHashBlockSize: int('Fallback: characters per hashed prompt block (as prefix-cache-scorer\'s hashBlockSize).', 64, 1),
      approximateLruCapacityPerServer: int('Fallback: block hashes remembered per endpoint.', 31250, 1),
      pendingWeight: Type.Number({ minimum: 0, maximum: 1, default: 0.9, description: 'Endpoints with live events score max(cached share, pendingWeight × approximate share): requests this data plane sent that the engine has not admitted (so not reported) yet still count, a little below blocks the engine reports; 0 ignores them.' }),
      homeScore: Type.Number({ minimum: 0, maximum: 1, default: 0.2, description: 'Least score of a prompt\'s home endpoint (rendezvous hash of its first 512 characters over the endpoints), so replicas that have not seen a prompt yet agree where it goes; 0 turns it off.' }),
    }, { additionalProperties: false }),
  },
  {
    type: 'lora-affinity-scorer', aliases: ['lora-affinity'], roles: ['filter', 'scorer'],
    summary: 'adapter loaded: 1; free adapter slot: 0.5 (0.4 when queued adapters wait); otherwise 0. As a filter keeps the best tier',
    parameters: none,
  },
  {
    type: 'random', aliases: [], roles: ['scorer'],
    summary: 'a uniform random score in [0,1)',
    parameters: none,
  },
  {
    type: 'max-score-picker', aliases: [], roles: ['picker'],
    summary: 'picks the highest total score (ties broken at random); the rest, best first, are the failover order',
    parameters: Type.Object({ maxNumOfEndpoints: int('Endpoints returned (the first serves, the others are failover).', 1, 1) }, { additionalProperties: false }),
  },
  {
    type: 'random-picker', aliases: [], roles: ['picker'],
    summary: 'picks uniformly at random among the candidates',
    parameters: Type.Object({ maxNumOfEndpoints: int('Endpoints returned.', 1, 1) }, { additionalProperties: false }),
  },
  {
    type: 'weighted-random-picker', aliases: [], roles: ['picker'],
    summary: 'picks at random with probability proportional to total score',
    parameters: Type.Object({ maxNumOfEndpoints: int('Endpoints returned.', 1, 1) }, { additionalProperties: false }),
  },
  {
    type: 'single-profile-handler', aliases: [], roles: ['profile-handler'],
    summary: 'runs the one (primary) profile for every request',
    parameters: none,
  },
  {
    type: 'pd-profile-handler', aliases: [], roles: ['profile-handler'],
    summary: 'prefill/decode disaggregation: runs the decode profile to pick the decode pods and the prefill profile to pick their prefill partners',
    parameters: Type.Object({
      prefillProfile: Type.String({ description: 'Name of the profile that ranks prefill pods.', default: 'prefill', minLength: 1 }),
      decodeProfile: Type.String({ description: 'Name of the profile that ranks decode pods (also the primary profile).', default: 'decode', minLength: 1 }),
    }, { additionalProperties: false }),
  },
  {
    type: 'prefill-filter', aliases: [], roles: ['filter'],
    summary: 'keeps prefill pods (pdGroup prefillLabels)',
    parameters: none,
  },
  {
    type: 'decode-filter', aliases: [], roles: ['filter'],
    summary: 'keeps decode pods (pdGroup decodeLabels) and pods without a PD role',
    parameters: none,
  },
];

const BY_NAME = new Map<string, PluginType>();
for (const p of PLUGIN_TYPES) for (const n of [p.type, ...p.aliases]) BY_NAME.set(n, p);

/** The catalog entry for a type name or alias, or undefined. */
export function lookupPluginType(name: string): PluginType | undefined {
  return BY_NAME.get(name);
}

/** Every accepted type name, for error messages. */
export function knownPluginNames(): string[] {
  return [...BY_NAME.keys()].sort();
}
