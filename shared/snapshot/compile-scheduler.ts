/**
 * Resolves which scheduler configuration each ModelServer runs, for compileSnapshot:
 *
 * - a ModelServer annotated `sluice.dev/scheduler-config: <name>` runs the ConfigMap of that name
 *   in its namespace;
 * - otherwise the router-wide ConfigMap (`sluice-router-config` or `kthena-router-config`) in the
 *   router's own namespace (the operator's, by default). The router-wide ConfigMap also holds auth,
 *   so a tenant who may create ConfigMaps in their namespace must not be able to supply it: one of
 *   those names anywhere else is ignored, with an issue saying so;
 * - otherwise the built-in default.
 *
 * A configuration with problems is not used: its users keep the last valid version of it (passed
 * in by the caller, so this stays pure) or, if there never was one, the built-in default, and
 * their SchedulerConfigured condition says which and why.
 */
import type { ConfigMap } from '../api/core-types';
import type { ModelServer } from '../api/model-server';
import type { Issue } from '../api/validate';
import { schedulerConfigFromConfigMap, defaultSchedulerConfig } from '../config/scheduler-config-source';
import type { SchedulerConfig } from '../config/scheduler-config';
import type { CompiledCondition } from './conditions';
import type { RouterPolicy } from '../config/router-policy-parse';

/** ConfigMap names that configure every ModelServer, in the order they are looked for. */
export const ROUTER_CONFIG_NAMES = ['sluice-router-config', 'kthena-router-config'] as const;
/** ModelServer annotation naming its own scheduler ConfigMap. */
export const SCHEDULER_CONFIG_ANNOTATION = 'sluice.dev/scheduler-config';
/** Key of the built-in configuration in the snapshot. */
export const DEFAULT_SCHEDULER_KEY = 'default';

/** A configuration problem, for the operator's report. */
export interface SchedulerIssue {
  /** `ConfigMap namespace/name`. */
  object: string;
  issues: Issue[];
}

/** What the compile needs back. */
export interface SchedulerResolution {
  /** Every configuration in use, by key (`default` or `namespace/configmap`). */
  configs: Record<string, SchedulerConfig>;
  /** The key each ModelServer (`namespace/name`) uses. */
  byServer: Map<string, string>;
  /** SchedulerConfigured condition per ModelServer. */
  conditions: Map<string, CompiledCondition>;
  issues: SchedulerIssue[];
  /**
   * The router policy (auth, identity, fairness) from the router-wide ConfigMap; while that is
   * invalid, the last valid one (the caller's `lastGoodPolicy`).
   */
  policy: RouterPolicy;
}

const cmKey = (cm: ConfigMap) => `${cm.metadata.namespace ?? 'default'}/${cm.metadata.name}`;
const summary = (issues: Issue[]) => issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`).join('; ') + (issues.length > 3 ? `; and ${issues.length - 3} more` : '');

/**
 * Resolves configurations for `servers` from `configMaps`. Only `routerNamespace` may hold the
 * router-wide ConfigMap.
 */
export function resolveSchedulers(servers: readonly ModelServer[], configMaps: readonly ConfigMap[], lastGood: Readonly<Record<string, SchedulerConfig>>, routerNamespace: string, lastGoodPolicy: RouterPolicy = {}): SchedulerResolution {
  const byKey = new Map(configMaps.map((cm) => [cmKey(cm), cm]));
  const parsed = new Map<string, { config: SchedulerConfig | null; issues: Issue[]; policy?: RouterPolicy }>();
  const issues: SchedulerIssue[] = [];
  const load = (key: string) => {
    let hit = parsed.get(key);
    if (hit) return hit;
    const cm = byKey.get(key);
    if (!cm) hit = { config: null, issues: [{ path: '', message: `ConfigMap ${key} not found` }] };
    else {
      const r = schedulerConfigFromConfigMap(cm);
      hit = 'issues' in r ? { config: null, issues: r.issues } : { config: r.config, issues: [], ...(r.policy ? { policy: r.policy } : {}) };
      if ('issues' in r) issues.push({ object: `ConfigMap ${key}`, issues: r.issues });
    }
    parsed.set(key, hit);
    return hit;
  };

  // The router-wide configuration: the first of the known names present in the router's namespace.
  const named = configMaps.filter((cm) => (ROUTER_CONFIG_NAMES as readonly string[]).includes(cm.metadata.name));
  const routerCms = named.filter((cm) => (cm.metadata.namespace ?? 'default') === routerNamespace)
    .sort((a, b) => ROUTER_CONFIG_NAMES.indexOf(a.metadata.name as never) - ROUTER_CONFIG_NAMES.indexOf(b.metadata.name as never));
  for (const cm of named) {
    if (routerCms.includes(cm)) continue;
    issues.push({ object: `ConfigMap ${cmKey(cm)}`, issues: [{ path: 'metadata.namespace', message: `ignored: the router-wide configuration (scheduler, auth, identity, fairness) is read only from namespace ${routerNamespace} (operator flag --router-config-namespace), so that no tenant namespace can change it. Move it there, or rename it and point a ModelServer at it with the ${SCHEDULER_CONFIG_ANNOTATION} annotation` }] });
  }
  if (routerCms.length > 1) {
    issues.push({ object: `ConfigMap ${cmKey(routerCms[1]!)}`, issues: [{ path: '', message: `router configuration is already taken from ConfigMap ${cmKey(routerCms[0]!)}; keep one of ${routerCms.map(cmKey).join(', ')}` }] });
  }
  const routerKey = routerCms[0] ? cmKey(routerCms[0]) : null;

  let policy: RouterPolicy = {};
  if (routerKey) {
    const hit = load(routerKey);
    policy = hit.config ? hit.policy ?? {} : lastGoodPolicy;
  }

  const configs: Record<string, SchedulerConfig> = { [DEFAULT_SCHEDULER_KEY]: defaultSchedulerConfig() };
  const byServer = new Map<string, string>();
  const conditions = new Map<string, CompiledCondition>();
  for (const server of servers) {
    const ns = server.metadata.namespace ?? 'default';
    const serverKey = `${ns}/${server.metadata.name}`;
    const annotated = server.metadata.annotations?.[SCHEDULER_CONFIG_ANNOTATION];
    const key = annotated ? `${ns}/${annotated}` : routerKey;
    const how = annotated ? `annotation ${SCHEDULER_CONFIG_ANNOTATION}` : 'router-wide';
    let cond: CompiledCondition;
    if (!key) {
      byServer.set(serverKey, DEFAULT_SCHEDULER_KEY);
      cond = { type: 'SchedulerConfigured', status: 'True', reason: 'BuiltInDefault', message: 'no scheduler ConfigMap; running the built-in default (see docs/scheduler-config.md)' };
    } else {
      const { config, issues: problems, policy: own } = load(key);
      if (own && key !== routerKey && !issues.some((i) => i.object === `ConfigMap ${key}` && i.issues.some((x) => x.path === 'policy'))) {
        issues.push({ object: `ConfigMap ${key}`, issues: [{ path: 'policy', message: `${Object.keys(own).join(', ')} in ConfigMap ${key} ignored: they apply router-wide, so they are read from ${ROUTER_CONFIG_NAMES.join(' or ')} only` }] });
      }
      if (config) {
        configs[key] = config;
        byServer.set(serverKey, key);
        cond = { type: 'SchedulerConfigured', status: 'True', reason: 'Configured', message: `scheduler from ${config.origin} (${how}, ${config.source} dialect)` };
      } else {
        const fallback = lastGood[key];
        configs[fallback ? key : DEFAULT_SCHEDULER_KEY] = fallback ?? configs[DEFAULT_SCHEDULER_KEY]!;
        byServer.set(serverKey, fallback ? key : DEFAULT_SCHEDULER_KEY);
        cond = { type: 'SchedulerConfigured', status: 'False', reason: 'InvalidSchedulerConfig',
          message: `ConfigMap ${key} (${how}) refused: ${summary(problems)}. Running ${fallback ? 'its last valid version' : 'the built-in default'} until it is fixed` };
      }
    }
    if (server.metadata.generation !== undefined) cond.observedGeneration = server.metadata.generation;
    conditions.set(serverKey, cond);
  }
  return { configs, byServer, conditions, issues, policy };
}
