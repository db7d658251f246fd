/**
 * Kthena's scheduler configuration dialect: the `schedulerConfiguration` key of the router's
 * ConfigMap, and `routerConfiguration` (the same under `scheduler:`, plus `auth:`, `identity:`, `fairness:`).
 *
 *     pluginConfig: [{name, args}]          # parameters, Kthena spelling
 *     plugins:
 *       Filter: {enabled: [name], disabled: [name]}
 *       Score:  {enabled: [{name, weight}], disabled: [name | {name}]}
 *
 * It becomes one profile `default`: filters in Filter.enabled order, scorers with their weights,
 * `max-score-picker` returning SLUICE_FAILOVER_DEPTH endpoints (Kthena's scheduler keeps its best
 * five pods too) and `single-profile-handler`. Where Kthena silently tolerates a mistake (unknown
 * fields, a Score entry without weight, an unknown plugin name, args for a plugin nobody enabled)
 * Sluice reports it, with the fix.
 */
import { type Issue } from '../api/validate';
import {
  checkParameters, describe, fieldPath, isIssue, isRecord, loadYaml, resolvePluginType, rolesText,
  SLUICE_FAILOVER_DEPTH, unknownKeys, type ParseResult,
} from './dialect-common';
import { type PluginType } from './plugin-catalog';
import { type PluginInstance, type SchedulerConfig } from './scheduler-config';
import { validateSchedulerConfig } from './validate-scheduler-config';
import { parseRouterPolicy, POLICY_KEYS, type RouterPolicy } from './router-policy-parse';

/** How Kthena spells and defaults a plugin's parameters, for the types where it differs from the catalog. */
interface KthenaArgs {
  /** Kthena arg name → catalog parameter name. Catalog parameters missing here are not settable. */
  readonly names: Readonly<Record<string, string>>;
  /** Kthena args Sluice accepts and drops, with why. */
  readonly ignored: Readonly<Record<string, string>>;
  /** Kthena's own defaults (canonical names), applied before the catalog's. */
  readonly defaults: Readonly<Record<string, unknown>>;
}

/**
 * From Kthena's source (pkg/kthena-router/scheduler/plugins): least-request defaults
 * maxWaitingRequests to 10 and least-latency TTFTTPOTWeightFactor to 0.5, as the catalog does;
 * prefix-cache uses blockSizeToHash 64, maxBlocksToMatch 128 and one LRU of maxHashCacheSize 50000
 * hashes shared by all pods, where the catalog's (endpoint picker) defaults are 256 blocks and a
 * per-endpoint LRU. `topKMatches` (5) limits how many matching pods Kthena scores; Sluice scores
 * every candidate, so it has nothing to set. kvcache-aware matches maxBlocksToMatch 128 blocks of
 * blockSizeToHash tokens, looked up in a Redis index; Sluice keeps maxBlocksToMatch and reads the block size from
 * the engines' events (docs/kv-cache-aware.md).
 */
const KTHENA_ARGS: Readonly<Record<string, KthenaArgs>> = {
  'least-request': { names: { maxWaitingRequests: 'maxWaitingRequests' }, ignored: {}, defaults: { maxWaitingRequests: 10 } },
  'least-latency': { names: { TTFTTPOTWeightFactor: 'TTFTTPOTWeightFactor' }, ignored: {}, defaults: { TTFTTPOTWeightFactor: 0.5 } },
  'prefix-cache-scorer': {
    names: { blockSizeToHash: 'hashBlockSize', maxBlocksToMatch: 'maxPrefixBlocksToMatch', maxHashCacheSize: 'maxHashCacheSize', homeScore: 'homeScore' },
    ignored: { topKMatches: 'Sluice scores every matching endpoint, not only the top K' },
    defaults: { hashBlockSize: 64, maxPrefixBlocksToMatch: 128, maxHashCacheSize: 50000 },
  },
  'precise-prefix-cache-scorer': {
    names: { maxBlocksToMatch: 'maxPrefixBlocksToMatch', fallback: 'fallback', approximateHashBlockSize: 'approximateHashBlockSize', approximateLruCapacityPerServer: 'approximateLruCapacityPerServer', pendingWeight: 'pendingWeight', homeScore: 'homeScore' },
    ignored: { blockSizeToHash: 'Sluice hashes blocks of the size each engine reports in its KV events, which is the size its cache really uses' },
    defaults: { maxPrefixBlocksToMatch: 128 },
  },
};

/** Kthena's plugin set when the configuration has no `plugins` key (NewScheduler in scheduler_impl.go). */
const KTHENA_DEFAULT_PLUGINS = {
  Filter: { enabled: ['least-request'] },
  Score: { enabled: [{ name: 'least-request', weight: 1 }, { name: 'least-latency', weight: 1 }, { name: 'prefix-cache', weight: 1 }] },
};

/** Arg names Kthena accepts for a type: its own spellings, or the catalog's where it has none of its own. */
function argNames(t: PluginType): { names: Record<string, string>; ignored: Record<string, string> } {
  const k = KTHENA_ARGS[t.type];
  if (k) return { names: { ...k.names }, ignored: { ...k.ignored } };
  const props = Object.keys((t.parameters as { properties?: object }).properties ?? {});
  return { names: Object.fromEntries(props.map((p) => [p, p])), ignored: {} };
}

/** A list of strings at `path`, or issues. Absent means empty. */
function stringList(raw: unknown, path: string, what: string): { items: { name: string; path: string }[]; issues: Issue[] } {
  if (raw === undefined || raw === null) return { items: [], issues: [] };
  if (!Array.isArray(raw)) return { items: [], issues: [{ path, message: `${what} must be a list of plugin names (got ${describe(raw)})` }] };
  const items: { name: string; path: string }[] = [];
  const issues: Issue[] = [];
  raw.forEach((v, i) => {
    const p = fieldPath(path, i);
    // Score.disabled is a list of {name, weight} in Kthena's types; a bare name is accepted too.
    const name = isRecord(v) && typeof v.name === 'string' ? v.name : v;
    if (typeof name === 'string' && name.length > 0) items.push({ name, path: isRecord(v) ? fieldPath(p, 'name') : p });
    else issues.push({ path: p, message: `${what} entries must be plugin names (got ${describe(v)})` });
  });
  return { items, issues };
}

/** A mapping at `path` (absent is empty), checked for unknown keys. */
function section(raw: unknown, path: string, allowed: string[], what: string): { obj: Record<string, unknown>; issues: Issue[] } {
  if (raw === undefined || raw === null) return { obj: {}, issues: [] };
  if (!isRecord(raw)) return { obj: {}, issues: [{ path, message: `${what} must be a mapping with ${allowed.join(' and ')} (got ${describe(raw)})` }] };
  return { obj: raw, issues: unknownKeys(raw, allowed, path, what) };
}

/** Parses a Kthena scheduler configuration document (already loaded) whose fields live under `base`. */
function parseSchedulerDoc(doc: Record<string, unknown>, base: string, origin: string): ParseResult {
  const at = (k: string) => fieldPath(base, k);
  const issues: Issue[] = unknownKeys(doc, ['pluginConfig', 'plugins'], base, 'the Kthena scheduler configuration');

  // pluginConfig, keyed by canonical type so `prefix-cache` args reach a `prefix-cache-scorer` entry.
  const argsByType = new Map<string, { index: number; name: string; args: unknown }>();
  const pc = doc.pluginConfig ?? [];
  if (!Array.isArray(pc)) issues.push({ path: at('pluginConfig'), message: `pluginConfig must be a list of {name, args} (got ${describe(pc)})` });
  else pc.forEach((entry, i) => {
    const p = fieldPath(at('pluginConfig'), i);
    if (!isRecord(entry) || typeof entry.name !== 'string') {
      issues.push({ path: p, message: `pluginConfig entries must be {name: <plugin>, args: {...}} (got ${describe(entry)})` });
      return;
    }
    issues.push(...unknownKeys(entry, ['name', 'args'], p, `pluginConfig entry ${entry.name}`));
    const t = resolvePluginType(entry.name, fieldPath(p, 'name'), 'pluginConfig names');
    if (isIssue(t)) return void issues.push(t);
    const prev = argsByType.get(t.type);
    if (prev) return void issues.push({ path: fieldPath(p, 'name'), message: `pluginConfig for ${entry.name} repeats pluginConfig[${prev.index}] (${prev.name}); merge their args into one entry` });
    argsByType.set(t.type, { index: i, name: entry.name, args: entry.args });
  });

  const plugins = section(doc.plugins == null ? KTHENA_DEFAULT_PLUGINS : doc.plugins, at('plugins'), ['Filter', 'Score'], 'plugins');
  const filter = section(plugins.obj.Filter, fieldPath(at('plugins'), 'Filter'), ['enabled', 'disabled'], 'plugins.Filter');
  const score = section(plugins.obj.Score, fieldPath(at('plugins'), 'Score'), ['enabled', 'disabled'], 'plugins.Score');
  issues.push(...plugins.issues, ...filter.issues, ...score.issues);

  // One instance per canonical type, named as the user first spelled it.
  const instances = new Map<string, { name: string; type: PluginType }>();
  const instance = (name: string, t: PluginType) => {
    if (!instances.has(t.type)) instances.set(t.type, { name, type: t });
    return instances.get(t.type)!.name;
  };

  const filterPath = fieldPath(fieldPath(at('plugins'), 'Filter'), 'enabled');
  const filters: string[] = [];
  const filterTypes = new Set<string>();
  const fe = stringList(filter.obj.enabled, filterPath, 'plugins.Filter.enabled');
  issues.push(...fe.issues);
  for (const { name, path } of fe.items) {
    const t = resolvePluginType(name, path, 'Filter plugin');
    if (isIssue(t)) { issues.push(t); continue; }
    if (!t.roles.includes('filter')) { issues.push({ path, message: `${name} cannot filter: ${t.type} acts as ${rolesText(t)}; ${t.roles.includes('scorer') ? 'move it to plugins.Score.enabled with a weight' : 'remove it'}` }); continue; }
    if (filterTypes.has(t.type)) { issues.push({ path, message: `Filter plugin ${name} is enabled twice; list it once` }); continue; }
    filterTypes.add(t.type);
    filters.push(instance(name, t));
  }

  const scorePath = fieldPath(fieldPath(at('plugins'), 'Score'), 'enabled');
  const scorers: { plugin: string; weight: number }[] = [];
  const scoreTypes = new Set<string>();
  const se = score.obj.enabled ?? [];
  if (!Array.isArray(se)) issues.push({ path: scorePath, message: `plugins.Score.enabled must be a list of {name, weight} (got ${describe(se)})` });
  else se.forEach((entry, i) => {
    const p = fieldPath(scorePath, i);
    if (!isRecord(entry) || typeof entry.name !== 'string') {
      issues.push({ path: p, message: `Score entries must be {name: <plugin>, weight: <whole number>} (got ${describe(entry)}); e.g. - name: least-request\n  weight: 1` });
      return;
    }
    issues.push(...unknownKeys(entry, ['name', 'weight'], p, `Score entry ${entry.name}`));
    const t = resolvePluginType(entry.name, fieldPath(p, 'name'), 'Score plugin');
    let ok = true;
    if (isIssue(t)) { issues.push(t); ok = false; }
    else if (!t.roles.includes('scorer')) { issues.push({ path: fieldPath(p, 'name'), message: `${entry.name} cannot score: ${t.type} acts as ${rolesText(t)}; ${t.roles.includes('filter') ? 'move it to plugins.Filter.enabled' : 'remove it'}` }); ok = false; }
    else if (scoreTypes.has(t.type)) { issues.push({ path: fieldPath(p, 'name'), message: `Score plugin ${entry.name} is enabled twice; list it once with one weight` }); ok = false; }
    const w = entry.weight;
    if (w === undefined || w === null) { issues.push({ path: p, message: `Score entry ${entry.name} has no weight; Kthena requires one: add weight: 1 (or another whole number)` }); ok = false; }
    else if (typeof w !== 'number' || !Number.isInteger(w) || w < 1) { issues.push({ path: fieldPath(p, 'weight'), message: `weight of Score plugin ${entry.name} must be a whole number of at least 1 (got ${describe(w)}); to switch it off remove the entry` }); ok = false; }
    if (!ok || isIssue(t)) return;
    scoreTypes.add(t.type);
    scorers.push({ plugin: instance(entry.name, t), weight: w as number });
  });

  // Kthena drops `random` with a warning when other scorers are enabled; that is never what was meant.
  const randomAt = se instanceof Array ? se.findIndex((e) => isRecord(e) && e.name === 'random') : -1;
  if (randomAt >= 0 && scorers.length > 1) {
    issues.push({ path: fieldPath(fieldPath(scorePath, randomAt), 'name'), message: 'random cannot be combined with other Score plugins (Kthena drops it then); enable random alone or remove it' });
  }

  // `disabled` only documents intent (Kthena ignores it); a name also enabled is a contradiction.
  const sections: [string, unknown, Set<string>][] = [['Filter', filter.obj.disabled, filterTypes], ['Score', score.obj.disabled, scoreTypes]];
  for (const [kind, raw, enabled] of sections) {
    const list = stringList(raw, fieldPath(fieldPath(at('plugins'), kind), 'disabled'), `plugins.${kind}.disabled`);
    issues.push(...list.issues);
    for (const { name, path } of list.items) {
      const t = resolvePluginType(name, path, `${kind} disabled plugin`);
      if (isIssue(t)) issues.push(t);
      else if (enabled.has(t.type)) issues.push({ path, message: `${name} is both enabled and disabled in plugins.${kind}; remove it from one of the lists` });
    }
  }

  for (const [type, { index, name }] of argsByType) {
    if (!instances.has(type)) {
      issues.push({ path: fieldPath(fieldPath(at('pluginConfig'), index), 'name'), message: `pluginConfig for ${name}, but ${name} is not enabled in plugins.Filter.enabled or plugins.Score.enabled; enable it or remove this pluginConfig entry` });
    }
  }

  const pluginList: PluginInstance[] = [];
  for (const [type, { name, type: t }] of instances) {
    const cfg = argsByType.get(type);
    const argsPath = cfg ? fieldPath(fieldPath(at('pluginConfig'), cfg.index), 'args') : at('pluginConfig');
    const { names, ignored } = argNames(t);
    const canonical: Record<string, unknown> = { ...(KTHENA_ARGS[type]?.defaults ?? {}) };
    const rawArgs = cfg?.args ?? {};
    if (!isRecord(rawArgs)) { issues.push({ path: argsPath, message: `args of ${name} must be a mapping of name: value (got ${describe(rawArgs)})` }); continue; }
    for (const [k, v] of Object.entries(rawArgs)) {
      if (k in ignored) continue;
      if (k in names) { canonical[names[k]!] = v; continue; }
      const kthenaName = Object.keys(names).find((n) => names[n] === k);
      const accepted = [...Object.keys(names), ...Object.keys(ignored)];
      issues.push({
        path: fieldPath(argsPath, k),
        message: kthenaName
          ? `${name} has no arg ${k} in Kthena's spelling; call it ${kthenaName}`
          : accepted.length ? `${name} has no arg ${k}; check the spelling or remove it (accepted: ${accepted.join(', ')})` : `${name} takes no args; remove ${k}`,
      });
    }
    // Kthena's prefix store is one LRU for all pods; a per-endpoint cap as large as the global one never binds first.
    if (type === 'prefix-cache-scorer' && Number.isInteger(canonical.maxHashCacheSize) && (canonical.maxHashCacheSize as number) >= 1) {
      canonical.lruCapacityPerServer = canonical.maxHashCacheSize;
    }
    const spell = (c: string) => Object.keys(names).find((n) => names[n] === c) ?? c;
    const checked = checkParameters(t, name, canonical, argsPath, spell);
    issues.push(...checked.issues);
    pluginList.push({ name, type, parameters: checked.parameters });
  }
  if (issues.length > 0) return { issues };

  pluginList.push(
    { name: 'single-profile-handler', type: 'single-profile-handler', parameters: {} },
    { name: 'max-score-picker', type: 'max-score-picker', parameters: { maxNumOfEndpoints: SLUICE_FAILOVER_DEPTH } },
  );
  const config: SchedulerConfig = {
    source: 'kthena', origin, plugins: pluginList, profileHandler: 'single-profile-handler',
    profiles: [{ name: 'default', filters, scorers, picker: 'max-score-picker' }],
  };
  const internal = validateSchedulerConfig(config);
  return internal.length > 0 ? { issues: internal } : { config };
}

/** Loads YAML that must be a mapping (or empty, which is treated as `{}`). */
function loadMapping(text: string, what: string): { doc: Record<string, unknown> } | { issues: Issue[] } {
  const loaded = loadYaml(text);
  if ('issues' in loaded) return loaded;
  if (loaded.value === undefined) return { doc: {} };
  if (!isRecord(loaded.value)) return { issues: [{ path: '', message: `${what} must be a YAML mapping (got ${describe(loaded.value)}); see the Kthena router ConfigMap documentation` }] };
  return { doc: loaded.value };
}

/**
 * Parses Kthena's `schedulerConfiguration` text. Empty text, or a document without `plugins`,
 * runs Kthena's default plugin set (Filter least-request; Score least-request, least-latency and
 * prefix-cache, weight 1 each); missing `pluginConfig` args take Kthena's defaults.
 */
export function parseKthenaScheduler(text: string, origin: string): ParseResult {
  const loaded = loadMapping(text, 'schedulerConfiguration');
  if ('issues' in loaded) return loaded;
  return parseSchedulerDoc(loaded.doc, '', origin);
}

/**
 * Parses Kthena's `routerConfiguration` text: `scheduler:` (as `parseKthenaScheduler`; absent
 * runs Kthena's default plugin set), Kthena's `auth:` and Sluice's `identity:` and `fairness:`
 * (router-policy-parse.ts), returned alongside the configuration as `policy`.
 */
export function parseKthenaRouterConfiguration(text: string, origin: string): ParseResult<{ policy?: RouterPolicy }> {
  const loaded = loadMapping(text, 'routerConfiguration');
  if ('issues' in loaded) return loaded;
  const doc = loaded.doc;
  const issues = unknownKeys(doc, ['scheduler', ...POLICY_KEYS], '', 'routerConfiguration');
  const policy = parseRouterPolicy(doc, issues);
  const sched = doc.scheduler ?? {};
  if (!isRecord(sched)) {
    issues.push({ path: 'scheduler', message: `scheduler must be a mapping with pluginConfig and plugins (got ${describe(sched)})` });
    return { issues };
  }
  const parsed = parseSchedulerDoc(sched, 'scheduler', origin);
  if ('issues' in parsed) issues.push(...parsed.issues);
  if (issues.length > 0 || 'issues' in parsed) return { issues };
  return Object.keys(policy).length > 0 ? { config: parsed.config, policy } : { config: parsed.config };
}
