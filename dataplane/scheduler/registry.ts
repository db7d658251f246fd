/**
 * The plugin registry: one factory per catalog type and role, registered explicitly here. A
 * plugin that plays two roles (least-request as filter and scorer) has one factory per role. The
 * catalog in shared/config decides names, aliases and parameters; this file only builds.
 */
import { lookupPluginType, PLUGIN_TYPES, type PluginRole } from '../../shared/config/plugin-catalog';
import { LeastRequestFilter } from './plugins/filter/least-request-filter';
import { PdRoleFilter } from './plugins/filter/pd-role-filter';
import { MaxScorePicker } from './plugins/picker/max-score-picker';
import { RandomPicker } from './plugins/picker/random-picker';
import { WeightedRandomPicker } from './plugins/picker/weighted-random-picker';
import { PdProfileHandler } from './plugins/profile/pd-profile-handler';
import { SingleProfileHandler } from './plugins/profile/single-profile-handler';
import { KvCacheScorer } from './plugins/scorer/kv-cache-scorer';
import { LeastLatencyScorer } from './plugins/scorer/least-latency-scorer';
import { LeastRequestScorer } from './plugins/scorer/least-request-scorer';
import { LoraAffinityScorer } from './plugins/scorer/lora-affinity-scorer';
import { PrecisePrefixCacheScorer, type PrecisePrefixCacheParams } from './plugins/scorer/precise-prefix-cache-scorer';
import { PrefixCacheScorer, type PrefixCacheParams } from './plugins/scorer/prefix-cache-scorer';
import { QueueScorer } from './plugins/scorer/queue-scorer';
import { RandomScorer } from './plugins/scorer/random-scorer';
import type { AnyPlugin, PluginEnv } from './types';

/** Builds one plugin instance from its (validated, defaulted) parameters. */
export type PluginFactory = (name: string, params: Record<string, unknown>, env: PluginEnv) => AnyPlugin;

const num = (p: Record<string, unknown>, key: string): number => p[key] as number;

/** Factories by canonical type, then role. */
export const FACTORIES: Readonly<Record<string, Partial<Record<PluginRole, PluginFactory>>>> = {
  'least-request': {
    filter: (name, p) => new LeastRequestFilter(name, num(p, 'maxWaitingRequests')),
    scorer: (name) => new LeastRequestScorer(name),
  },
  'queue-scorer': { scorer: (name) => new QueueScorer(name) },
  'kv-cache-utilization-scorer': { scorer: (name) => new KvCacheScorer(name) },
  'least-latency': { scorer: (name, p) => new LeastLatencyScorer(name, num(p, 'TTFTTPOTWeightFactor')) },
  'prefix-cache-scorer': {
    scorer: (name, p, env) => new PrefixCacheScorer(name, p as unknown as PrefixCacheParams, env.prefixIndex(num(p, 'hashBlockSize'))),
  },
  'precise-prefix-cache-scorer': {
    scorer: (name, p, env) => new PrecisePrefixCacheScorer(name, p as unknown as PrecisePrefixCacheParams, env.prefixIndex(num(p, 'approximateHashBlockSize')), env.kvEvents ?? null),
  },
  'lora-affinity-scorer': { filter: (name) => new LoraAffinityScorer(name), scorer: (name) => new LoraAffinityScorer(name) },
  random: { scorer: (name, _p, env) => new RandomScorer(name, env.random) },
  'max-score-picker': { picker: (name, p, env) => new MaxScorePicker(name, num(p, 'maxNumOfEndpoints'), env.random) },
  'random-picker': { picker: (name, p, env) => new RandomPicker(name, num(p, 'maxNumOfEndpoints'), env.random) },
  'weighted-random-picker': { picker: (name, p, env) => new WeightedRandomPicker(name, num(p, 'maxNumOfEndpoints'), env.random) },
  'single-profile-handler': { 'profile-handler': (name) => new SingleProfileHandler(name) },
  'pd-profile-handler': { 'profile-handler': (name, p) => new PdProfileHandler(name, p.prefillProfile as string, p.decodeProfile as string) },
  'prefill-filter': { filter: (name) => new PdRoleFilter(name, true) },
  'decode-filter': { filter: (name) => new PdRoleFilter(name, false) },
};

/** Builds a plugin of `type` (name or alias) for `role`; throws naming what is wrong. */
export function createPlugin(type: string, role: PluginRole, name: string, params: Record<string, unknown>, env: PluginEnv): AnyPlugin {
  const entry = lookupPluginType(type);
  if (!entry) throw new Error(`plugin ${name}: unknown type ${type}`);
  const factory = FACTORIES[entry.type]?.[role];
  if (!factory) throw new Error(`plugin ${name}: type ${type} cannot act as a ${role} (it can be: ${entry.roles.join(', ')})`);
  return factory(name, params, env);
}

/** Catalog entries without a factory for one of their roles (the contract test expects none). */
export function missingFactories(): string[] {
  return PLUGIN_TYPES.flatMap((p) => p.roles.filter((r) => !FACTORIES[p.type]?.[r]).map((r) => `${p.type}/${r}`));
}
