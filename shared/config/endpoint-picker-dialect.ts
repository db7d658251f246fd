/**
 * The Gateway API Inference Extension endpoint picker's text configuration, `EndpointPickerConfig`:
 *
 *     apiVersion: inference.networking.x-k8s.io/v1alpha1
 *     kind: EndpointPickerConfig
 *     plugins: [{name?, type, parameters?}]
 *     schedulingProfiles: [{name, plugins: [{pluginRef, weight?}]}]
 *
 * Defaults follow the endpoint picker's loader (pkg/epp/config/loader): a plugin's name defaults to
 * its type; no profiles → one `default` profile referencing every filter, scorer and picker; no
 * profile handler and one profile → `single-profile-handler` is added; a profile without a picker
 * gets the one picker defined, or a `max-score-picker` added to `plugins` (its documented default
 * maxNumOfEndpoints 1 is kept); a scorer reference without weight gets weight 1. Each reference is
 * placed by the plugin's catalog roles: filter → filters (in order), scorer → scorers, picker →
 * the picker. A plugin able both to filter and to score does both, as the endpoint picker does
 * with plugins implementing both interfaces.
 */
import { type Issue } from '../api/validate';
import {
  checkParameters, describe, fieldPath, isIssue, isRecord, loadYaml, resolvePluginType,
  unknownKeys, type ParseResult,
} from './dialect-common';
import { lookupPluginType, type PluginType } from './plugin-catalog';
import { type PluginInstance, type SchedulingProfile } from './scheduler-config';
import { validateSchedulerConfig } from './validate-scheduler-config';

/** The constant first lines of every EndpointPickerConfig. */
export const EPP_API_VERSION = 'inference.networking.x-k8s.io/v1alpha1';
/** The kind of the endpoint picker's configuration text. */
export const EPP_KIND = 'EndpointPickerConfig';

/** Sections of the endpoint picker's configuration that Sluice does not implement. */
const UNSUPPORTED_SECTIONS = ['featureGates', 'saturationDetector', 'data', 'parser', 'requestControl', 'flowControl'];

/**
 * Catalog types that can also filter, but whose endpoint picker namesake only scores: the
 * endpoint picker's lora-affinity-scorer never drops endpoints (Kthena's lora-affinity filter does).
 */
const SCORER_ONLY_HERE = new Set(['lora-affinity-scorer']);

interface Def { name: string; type: PluginType; parameters: Record<string, unknown>; index: number }
interface Ref { name: string; weight?: number; path: string }

/** Parses a list field that may be absent; reports a non-list. */
function list(raw: unknown, path: string, what: string, issues: Issue[]): unknown[] {
  if (raw === undefined || raw === null) return [];
  if (Array.isArray(raw)) return raw;
  issues.push({ path, message: `${what} must be a list (got ${describe(raw)})` });
  return [];
}

/** Reads `plugins[]` into definitions with validated, defaulted parameters. */
function readPlugins(raw: unknown, issues: Issue[]): Def[] {
  const defs: Def[] = [];
  list(raw, 'plugins', 'plugins', issues).forEach((entry, i) => {
    const p = fieldPath('plugins', i);
    if (!isRecord(entry)) return void issues.push({ path: p, message: `plugin entries must be {name?, type, parameters?} (got ${describe(entry)})` });
    issues.push(...unknownKeys(entry, ['name', 'type', 'parameters'], p, `plugin entry ${i}`));
    if (typeof entry.type !== 'string' || entry.type === '') {
      return void issues.push({ path: fieldPath(p, 'type'), message: `plugins[${i}] needs a type, e.g. type: queue-scorer (got ${describe(entry.type)})` });
    }
    if (entry.name !== undefined && (typeof entry.name !== 'string' || entry.name === '')) {
      return void issues.push({ path: fieldPath(p, 'name'), message: `plugin name must be a non-empty string, or omitted to use the type (got ${describe(entry.name)})` });
    }
    const name = (entry.name as string | undefined) ?? entry.type;
    const t = resolvePluginType(entry.type, fieldPath(p, 'type'), `plugin ${name}: type`);
    if (isIssue(t)) return void issues.push(t);
    const dup = defs.find((d) => d.name === name);
    if (dup) return void issues.push({ path: fieldPath(p, entry.name === undefined ? 'type' : 'name'), message: `plugin name ${JSON.stringify(name)} is already used by plugins[${dup.index}]; give one of them a distinct name` });
    const checked = checkParameters(t, `plugin ${name} (${t.type})`, entry.parameters, fieldPath(p, 'parameters'));
    issues.push(...checked.issues);
    defs.push({ name, type: t, parameters: checked.parameters, index: i });
  });
  return defs;
}

/** Reads one profile's references, checking each names a defined plugin and its weight fits. */
function readRefs(raw: unknown, path: string, profile: string, defs: Def[], issues: Issue[]): Ref[] {
  const refs: Ref[] = [];
  list(raw, path, `plugins of profile ${profile}`, issues).forEach((entry, j) => {
    const p = fieldPath(path, j);
    if (!isRecord(entry) || typeof entry.pluginRef !== 'string' || entry.pluginRef === '') {
      return void issues.push({ path: isRecord(entry) ? fieldPath(p, 'pluginRef') : p, message: `profile ${profile} plugin entries need pluginRef: <plugin name> (got ${describe(isRecord(entry) ? entry.pluginRef : entry)})` });
    }
    issues.push(...unknownKeys(entry, ['pluginRef', 'weight'], p, `profile ${profile} plugin entry`));
    const name = entry.pluginRef;
    const def = defs.find((d) => d.name === name);
    if (!def) return void issues.push({ path: fieldPath(p, 'pluginRef'), message: `profile ${profile} references undefined plugin ${JSON.stringify(name)}; define it in plugins (defined: ${defs.map((d) => d.name).join(', ') || 'none'})` });
    if (refs.some((r) => r.name === name)) return void issues.push({ path: fieldPath(p, 'pluginRef'), message: `profile ${profile} references ${name} twice; keep one reference` });
    if (def.type.roles.includes('profile-handler')) {
      return void issues.push({ path: fieldPath(p, 'pluginRef'), message: `${name} is a profile handler; handlers choose profiles and are not referenced from one, remove this reference` });
    }
    const w = entry.weight;
    if (w !== undefined) {
      if (!def.type.roles.includes('scorer')) return void issues.push({ path: fieldPath(p, 'weight'), message: `weight only applies to scorers and ${name} (${def.type.type}) is not one; remove the weight` });
      if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0) return void issues.push({ path: fieldPath(p, 'weight'), message: `weight of scorer ${name} must be a number above 0 (got ${describe(w)}); to switch it off remove the reference` });
    }
    refs.push({ name, weight: w as number | undefined, path: fieldPath(p, 'pluginRef') });
  });
  return refs;
}

/**
 * Parses endpoint picker configuration text into the normalised form, applying the endpoint
 * picker's documented defaults, so the short and the "after defaults" forms of one configuration
 * normalise identically.
 */
export function parseEndpointPickerConfig(text: string, origin: string): ParseResult {
  const loaded = loadYaml(text);
  if ('issues' in loaded) return loaded;
  const doc = loaded.value ?? {};
  if (!isRecord(doc)) return { issues: [{ path: '', message: `an EndpointPickerConfig must be a YAML mapping starting with apiVersion: ${EPP_API_VERSION} and kind: ${EPP_KIND} (got ${describe(doc)})` }] };
  const issues: Issue[] = [];
  for (const k of Object.keys(doc)) {
    if (UNSUPPORTED_SECTIONS.includes(k)) issues.push({ path: k, message: `Sluice does not implement the endpoint picker's ${k} section; remove it` });
    else if (!['apiVersion', 'kind', 'plugins', 'schedulingProfiles'].includes(k)) issues.push({ path: k, message: 'unknown field in EndpointPickerConfig; check the spelling or remove it (accepted: apiVersion, kind, plugins, schedulingProfiles)' });
  }
  if (doc.apiVersion !== EPP_API_VERSION) issues.push({ path: 'apiVersion', message: `apiVersion must be ${EPP_API_VERSION} (got ${describe(doc.apiVersion)})` });
  if (doc.kind !== EPP_KIND) issues.push({ path: 'kind', message: `kind must be ${EPP_KIND} (got ${describe(doc.kind)})` });

  const defs = readPlugins(doc.plugins, issues);
  const added: PluginInstance[] = [];
  const nameTaken = (n: string) => defs.some((d) => d.name === n);

  // Profiles as written, or the default one referencing every filter, scorer and picker.
  const rawProfiles = list(doc.schedulingProfiles, 'schedulingProfiles', 'schedulingProfiles', issues);
  const profiles: { name: string; refs: Ref[]; path: string }[] = [];
  if (rawProfiles.length === 0) {
    const refs = defs.filter((d) => !d.type.roles.includes('profile-handler')).map((d) => ({ name: d.name, path: fieldPath(fieldPath('plugins', d.index), 'name') }));
    profiles.push({ name: 'default', refs, path: 'plugins' });
  }
  rawProfiles.forEach((entry, i) => {
    const p = fieldPath('schedulingProfiles', i);
    if (!isRecord(entry)) return void issues.push({ path: p, message: `scheduling profiles must be {name, plugins: [{pluginRef, weight?}]} (got ${describe(entry)})` });
    issues.push(...unknownKeys(entry, ['name', 'plugins'], p, `schedulingProfiles[${i}]`));
    if (typeof entry.name !== 'string' || entry.name === '') return void issues.push({ path: fieldPath(p, 'name'), message: `schedulingProfiles[${i}] needs a name (got ${describe(entry.name)})` });
    if (profiles.some((q) => q.name === entry.name)) return void issues.push({ path: fieldPath(p, 'name'), message: `duplicate profile name ${JSON.stringify(entry.name)}; profile names must be unique` });
    profiles.push({ name: entry.name, refs: readRefs(entry.plugins, fieldPath(p, 'plugins'), entry.name, defs, issues), path: p });
  });

  // The profile handler: the one defined, or single-profile-handler when there is one profile.
  const handlers = defs.filter((d) => d.type.roles.includes('profile-handler'));
  let handler = handlers[0]?.name;
  for (const extra of handlers.slice(1)) {
    issues.push({ path: fieldPath(fieldPath('plugins', extra.index), 'type'), message: `only one profile handler may be defined; ${handlers[0]!.name} is already one, remove ${extra.name}` });
  }
  if (handler && handlers[0]!.type.type === 'single-profile-handler' && profiles.length > 1) {
    issues.push({ path: 'schedulingProfiles', message: `${handler} (single-profile-handler) runs one profile but ${profiles.length} are defined; keep one profile or use a handler that chooses between them (pd-profile-handler runs a prefill and a decode profile)` });
  }
  if (!handler) {
    if (profiles.length > 1) {
      issues.push({ path: 'schedulingProfiles', message: `${profiles.length} scheduling profiles need a profile handler to choose between them and none is defined; add one to plugins or keep a single profile (single-profile-handler runs one profile; pd-profile-handler runs a prefill and a decode profile)` });
    } else if (nameTaken('single-profile-handler')) {
      issues.push({ path: 'plugins', message: 'the default profile handler would be named single-profile-handler, but another plugin has that name; rename that plugin' });
    } else {
      handler = 'single-profile-handler';
      added.push({ name: handler, type: 'single-profile-handler', parameters: {} });
    }
  }

  // Classify references; a profile without a picker gets the defined one, or max-score-picker.
  const pickers = defs.filter((d) => d.type.roles.includes('picker'));
  const out: SchedulingProfile[] = [];
  const used = new Set<string>();
  for (const prof of profiles) {
    const filters: string[] = [];
    const scorers: { plugin: string; weight: number }[] = [];
    const chosen: Ref[] = [];
    for (const ref of prof.refs) {
      const t = defs.find((d) => d.name === ref.name)!.type;
      used.add(ref.name);
      if (t.roles.includes('filter') && !SCORER_ONLY_HERE.has(t.type)) filters.push(ref.name);
      if (t.roles.includes('scorer')) scorers.push({ plugin: ref.name, weight: ref.weight ?? 1 });
      if (t.roles.includes('picker')) chosen.push(ref);
    }
    let picker = chosen[0]?.name;
    if (chosen.length > 1) {
      issues.push({ path: chosen[1]!.path, message: `profile ${prof.name} has more than one picker (${chosen.map((c) => c.name).join(', ')}); keep one` });
    } else if (!picker && pickers.length === 1) {
      picker = pickers[0]!.name;
    } else if (!picker && pickers.length > 1) {
      issues.push({ path: prof.path, message: `profile ${prof.name} references no picker and several are defined (${pickers.map((d) => d.name).join(', ')}); reference the one it should use` });
    } else if (!picker) {
      if (nameTaken('max-score-picker')) {
        issues.push({ path: prof.path, message: `profile ${prof.name} needs a picker; the default one would be named max-score-picker but another plugin has that name, rename it` });
      } else {
        if (!added.some((a) => a.name === 'max-score-picker')) added.push({ name: 'max-score-picker', type: 'max-score-picker', parameters: checkParameters(lookupPluginType('max-score-picker')!, 'max-score-picker', {}, '').parameters });
        picker = 'max-score-picker';
      }
    }
    if (picker) used.add(picker);
    out.push({ name: prof.name, filters, scorers, picker: picker ?? '' });
  }

  // A defined plugin no profile uses does nothing, which is rarely what was meant.
  for (const d of defs) {
    if (!used.has(d.name) && !d.type.roles.includes('profile-handler')) {
      issues.push({ path: fieldPath(fieldPath('plugins', d.index), 'name'), message: `plugin ${d.name} is defined but no scheduling profile references it; add a pluginRef to it or remove it` });
    }
  }
  if (issues.length > 0) return { issues };

  const config = {
    source: 'endpoint-picker' as const, origin,
    plugins: [...defs.map((d) => ({ name: d.name, type: d.type.type, parameters: d.parameters })), ...added],
    profileHandler: handler!, profiles: out,
  };
  const internal = validateSchedulerConfig(config);
  return internal.length > 0 ? { issues: internal } : { config };
}
