/**
 * Helpers every scheduler configuration dialect shares: YAML loading with located errors, field
 * paths in the project's style (`plugins.Score.enabled[1].weight`), plugin type look-up with
 * helpful messages, and parameter validation against the plugin catalog with defaults applied.
 */
import { type TObject, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { loadBounded, YamlError } from '../util/bounded-yaml';
import { type Issue } from '../api/validate';
import { knownPluginNames, lookupPluginType, type PluginRole, type PluginType } from './plugin-catalog';
import { type SchedulerConfig } from './scheduler-config';

/** What a dialect parser returns: the normalised configuration (plus extras), or every issue found. */
export type ParseResult<Extra extends object = object> = ({ config: SchedulerConfig } & Extra) | { issues: Issue[] };

/** Narrows a parse result to its failure branch. */
export function hasIssues<T extends object>(r: T | { issues: Issue[] }): r is { issues: Issue[] } {
  return 'issues' in r;
}

/**
 * Endpoints a picker returns when Sluice chooses the depth: the first serves, the others are the
 * failover order. Five is Kthena's own `topN` (its scheduler keeps the best five pods), which also
 * covers ModelServer retries (default 1, at most 10 extra attempts reuse the list from its start).
 */
export const SLUICE_FAILOVER_DEPTH = 5;

/** Appends a key or index to a field path: `a` + `b` → `a.b`, + 0 → `a[0]`, + `x/y` → `a["x/y"]`. */
export function fieldPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

/** Names a value's kind for messages: `a list`, `an object`, `string "ten"`. */
export function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** True for a plain object (a YAML mapping). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses YAML text. Empty text (or only comments) yields `undefined`, so callers can apply their
 * dialect's "nothing configured" defaults. Syntax errors (including duplicate keys, which js-yaml
 * refuses and Go's YAML libraries silently resolve) become one issue with line and column; so do
 * texts over the bounds of shared/util/bounded-yaml (size, values, aliases, depth).
 */
export function loadYaml(text: string): { value: unknown } | { issues: Issue[] } {
  try {
    return { value: loadBounded(text) ?? undefined };
  } catch (err) {
    if (err instanceof YamlError) {
      const hint = err.line !== null ? '; check the indentation and quoting there' : '';
      return { issues: [{ path: '', message: `${err.message}${hint}` }] };
    }
    throw err;
  }
}

/** Reports keys of `obj` outside `allowed` (a typo most of the time), naming what is accepted. */
export function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string, what: string): Issue[] {
  return Object.keys(obj)
    .filter((k) => !allowed.includes(k))
    .map((k) => ({ path: fieldPath(path, k), message: `unknown field ${k} in ${what}; check the spelling or remove it (accepted: ${allowed.join(', ')})` }));
}

/** The catalog entry for `name`, or an issue saying it is unknown and which names are accepted. */
export function resolvePluginType(name: string, path: string, what: string): PluginType | Issue {
  const entry = lookupPluginType(name);
  if (entry) return entry;
  return { path, message: `${what} ${JSON.stringify(name)} is not a known plugin; use one of ${knownPluginNames().join(', ')}` };
}

/** True when `r` is an Issue rather than a catalog entry. */
export function isIssue(r: PluginType | Issue): r is Issue {
  return 'message' in r;
}

/** `a filter`, `a scorer` … for messages. */
function roleNoun(role: PluginRole): string {
  return role === 'profile-handler' ? 'a profile handler' : `a ${role}`;
}

/** Lists a type's roles for messages: `a filter or a scorer`. */
export function rolesText(t: PluginType): string {
  return t.roles.map(roleNoun).join(' or ');
}

/**
 * Fills the defaults of a parameter schema's required properties. Optional properties keep their
 * absence: for prefix-cache-scorer an unset `maxHashCacheSize` means "no global cap", which filling
 * its (documentation) default would silently change. TypeBox's `Value.Default` fills both, so this
 * is done by hand for the flat objects plugin parameters are.
 */
export function applyParameterDefaults(schema: TSchema, given: Record<string, unknown>): Record<string, unknown> {
  const out = Value.Clone(given);
  const obj = schema as TObject;
  const required = new Set(obj.required ?? []);
  for (const [key, prop] of Object.entries(obj.properties ?? {})) {
    const def = (prop as { default?: unknown }).default;
    if (out[key] === undefined && required.has(key) && def !== undefined) out[key] = Value.Clone(def);
  }
  return out;
}

/** Rewrites one TypeBox error on a plugin parameter as a message naming the plugin, the field and the fix. */
function explainParameter(plugin: string, field: string, e: ValueError, accepted: readonly string[]): string {
  const s = e.schema as Record<string, unknown>;
  const got = `(got ${describe(e.value)})`;
  const p = `${plugin} parameter ${field}`;
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return accepted.length > 0
        ? `${plugin} has no parameter ${field}; check the spelling or remove it (accepted: ${accepted.join(', ')})`
        : `${plugin} takes no parameters; remove ${field}`;
    case ValueErrorType.Integer:
      return `${p} must be a whole number ${got}`;
    case ValueErrorType.Number:
      return `${p} must be a finite number ${got}`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `${p} must be at least ${s.minimum} ${got}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `${p} must be at most ${s.maximum} ${got}`;
    case ValueErrorType.String:
      return `${p} must be a string ${got}; quote it in YAML`;
    case ValueErrorType.Boolean:
      return `${p} must be true or false ${got}`;
    default:
      return `${p}: ${e.message} ${got}`;
  }
}

/** How a dialect spells a parameter in its own documents, for paths and messages. */
export type ParameterSpelling = (canonical: string) => string;

/**
 * Validates plugin parameters (already in canonical spelling) against the catalog schema and fills
 * defaults. `path` is where the parameters live in the user's document; `spell` maps canonical
 * names back to the dialect's own, so a Kthena user reads `args.blockSizeToHash`.
 */
export function checkParameters(
  type: PluginType,
  label: string,
  given: unknown,
  path: string,
  spell: ParameterSpelling = (n) => n,
): { parameters: Record<string, unknown>; issues: Issue[] } {
  if (given === undefined || given === null) given = {};
  if (!isRecord(given)) {
    return { parameters: {}, issues: [{ path, message: `parameters of ${label} must be a mapping of name: value (got ${describe(given)})` }] };
  }
  const parameters = applyParameterDefaults(type.parameters, given);
  const accepted = Object.keys((type.parameters as TObject).properties ?? {}).map(spell);
  const issues: Issue[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(type.parameters, parameters)) {
    const raw = e.path.split('/')[1] ?? '';
    if (seen.has(raw)) continue; // one message per field is enough
    seen.add(raw);
    const field = spell(raw.replace(/~1/g, '/').replace(/~0/g, '~'));
    issues.push({ path: raw ? fieldPath(path, field) : path, message: explainParameter(label, field, e, accepted) });
  }
  return { parameters, issues };
}
