/**
 * Validation of API objects at the edge (the operator's sources). Every problem is listed at once,
 * each with its field path (`spec.rules[1].targetModels[0].weight`) and what to do about it.
 * Defaults from the schema are applied first, as the API server would.
 */
import { type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { ConfigMap, Pod, Secret } from './core-types';
import { checkExternalProvider, ExternalModelProvider } from './external-provider';
import { InferencePoolV1, InferencePoolV1alpha2, type InferencePool } from './inference-pool';
import { LORA_EXTERNAL_FIX, ModelRoute, TARGET_XOR_FIX, ZERO_WEIGHTS_FIX } from './model-route';
import { EMPTY_SELECTOR_FIX, ModelServer } from './model-server';
import { LABEL_KEY_FIX, LABEL_KEY_PATTERN } from './schema-kit';

/** One validation problem. */
export interface Issue {
  /** Field path, e.g. `spec.rules[1].targetModels[0].weight`; empty for the whole object. */
  readonly path: string;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

/** The API group and version of the Kthena routing kinds. */
export const ROUTING_API_VERSION = 'networking.serving.volcano.sh/v1alpha1';

/** The kinds Sluice reads, by `apiVersion/kind`. */
const SCHEMAS: Record<string, TSchema> = {
  [`${ROUTING_API_VERSION}/ModelRoute`]: ModelRoute,
  [`${ROUTING_API_VERSION}/ModelServer`]: ModelServer,
  [`${ROUTING_API_VERSION}/ExternalModelProvider`]: ExternalModelProvider,
  'v1/Pod': Pod,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'inference.networking.x-k8s.io/v1alpha2/InferencePool': InferencePoolV1alpha2,
  'inference.networking.k8s.io/v1/InferencePool': InferencePoolV1,
};

/** The result of validating one object. */
export type ValidationResult =
  | { ok: true; object: ModelRoute | ModelServer | ExternalModelProvider | Pod | ConfigMap | Secret | InferencePool }
  | { ok: false; issues: Issue[] };

/** Turns a JSON pointer (`/spec/rules/1/name`) into a field path (`spec.rules[1].name`). */
export function toFieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** Stands for a value that must not be repeated in a message (a Secret's content). */
const REDACTED = Symbol('redacted');

function describe(value: unknown): string {
  if (value === REDACTED) return 'a value not shown';
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Rewrites one TypeBox error as a message that says what to do. */
function explain(e: ValueError): string {
  const s = e.schema as Record<string, unknown>;
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'required field is missing; add it';
    case ValueErrorType.ObjectAdditionalProperties: {
      return 'unknown field; check the spelling or remove it';
    }
    case ValueErrorType.Kind:
      return `must be one of ${(s.enum as string[]).join(', ')} (got ${describe(e.value)})`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `must be at most ${s.maximum} (got ${describe(e.value)})`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be at least ${s.minimum} (got ${describe(e.value)})`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${s.minItems} item(s)`;
    case ValueErrorType.ArrayMaxItems:
      return `must have at most ${s.maxItems} items (got ${(e.value as unknown[]).length})`;
    case ValueErrorType.StringPattern:
      return String(s.pattern).includes('ms|s|m|h')
        ? `must be a duration such as 10s, 1m30s or 250ms (got ${describe(e.value)})`
        : `must match ${s.pattern} (got ${describe(e.value)})`;
    case ValueErrorType.StringMinLength:
      return 'must not be empty';
    case ValueErrorType.StringMaxLength:
      return `must be at most ${s.maxLength} characters`;
    case ValueErrorType.Literal:
      return `must be ${JSON.stringify(s.const)} (got ${describe(e.value)})`;
    case ValueErrorType.Integer:
      return `must be a whole number (got ${describe(e.value)})`;
    case ValueErrorType.String:
      return `must be a string (got ${describe(e.value)}); quote it in YAML`;
    case ValueErrorType.Array:
      return `must be a list (got ${describe(e.value)})`;
    case ValueErrorType.Object:
      return `must be an object (got ${describe(e.value)})`;
    default:
      return e.message;
  }
}

/** Semantic checks the schema cannot express (mirrored by CEL rules in the CRDs where possible). */
function checkModelRoute(route: ModelRoute): Issue[] {
  const issues: Issue[] = [];
  const spec = route.spec;
  if (!spec.modelName && !(spec.loraAdapters && spec.loraAdapters.length > 0)) {
    issues.push({ path: 'spec', message: 'set spec.modelName or spec.loraAdapters (or both); a route needs a model name to match' });
  }
  const seen = new Set<string>();
  (spec.loraAdapters ?? []).forEach((name, i) => {
    if (seen.has(name)) issues.push({ path: `spec.loraAdapters[${i}]`, message: `duplicate adapter ${JSON.stringify(name)}; list it once` });
    seen.add(name);
  });
  const rl = spec.rateLimit;
  if (rl?.tiers && (rl.per ?? 'route') === 'route') {
    issues.push({ path: 'spec.rateLimit.tiers', message: 'tiers needs per: user or per: tier; with per: route every request shares one budget and has no tier to look up' });
  }
  if (rl && rl.inputTokensPerUnit === undefined && rl.outputTokensPerUnit === undefined && !rl.tiers) {
    issues.push({ path: 'spec.rateLimit', message: 'rateLimit sets no limit; add inputTokensPerUnit, outputTokensPerUnit or tiers, or remove rateLimit' });
  }
  const address = rl?.global?.redis?.address;
  if (address !== undefined && !/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
    issues.push({ path: 'spec.rateLimit.global.redis.address', message: `must be host:port, e.g. redis.sluice-system.svc.cluster.local:6379 (got ${JSON.stringify(address)})` });
  }
  if (rl?.global && !rl.global.redis) {
    issues.push({ path: 'spec.rateLimit.global', message: 'global needs redis.address; remove global for a local (per-replica) limit' });
  }
  spec.rules.forEach((rule, i) => {
    if (!rule.targetModels.some((t) => t.weight === undefined || t.weight > 0)) {
      issues.push({ path: `spec.rules[${i}].targetModels`, message: ZERO_WEIGHTS_FIX });
    }
    rule.targetModels.forEach((t, j) => {
      const path = `spec.rules[${i}].targetModels[${j}]`;
      if (!!t.modelServerName === !!t.externalModelProviderName) issues.push({ path, message: TARGET_XOR_FIX });
      else if (t.externalModelProviderName && (spec.loraAdapters ?? []).length > 0) issues.push({ path: `${path}.externalModelProviderName`, message: LORA_EXTERNAL_FIX });
    });
    const base = `spec.rules[${i}].modelMatch`;
    for (const [header, match] of Object.entries(rule.modelMatch?.headers ?? {})) {
      issues.push(...checkStringMatch(`${base}.headers[${JSON.stringify(header)}]`, match));
    }
    if (rule.modelMatch?.uri) issues.push(...checkStringMatch(`${base}.uri`, rule.modelMatch.uri));
  });
  return issues;
}

const LABEL_KEY = new RegExp(LABEL_KEY_PATTERN);

/** Whether `key` is a Kubernetes label key (the prefix, when present, at most 253 characters). */
function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  return LABEL_KEY.test(key) && slash <= 253;
}

function checkLabelKeys(path: string, labels: Record<string, string> | undefined): Issue[] {
  return Object.keys(labels ?? {}).filter((k) => !isLabelKey(k))
    .map((k) => ({ path: `${path}[${JSON.stringify(k)}]`, message: `invalid label key ${JSON.stringify(k)}; ${LABEL_KEY_FIX}` }));
}

/** ModelServer checks the schema cannot express (CEL rules in the CRD say the same). */
function checkModelServer(server: ModelServer): Issue[] {
  const sel = server.spec.workloadSelector;
  const issues: Issue[] = [];
  if (Object.keys(sel.matchLabels ?? {}).length === 0 && !sel.pdGroup) {
    issues.push({ path: 'spec.workloadSelector', message: EMPTY_SELECTOR_FIX });
  }
  issues.push(...checkLabelKeys('spec.workloadSelector.matchLabels', sel.matchLabels));
  if (sel.pdGroup) {
    if (!isLabelKey(sel.pdGroup.groupKey)) {
      issues.push({ path: 'spec.workloadSelector.pdGroup.groupKey', message: `groupKey ${JSON.stringify(sel.pdGroup.groupKey)} is not a label key; ${LABEL_KEY_FIX}` });
    }
    issues.push(...checkLabelKeys('spec.workloadSelector.pdGroup.prefillLabels', sel.pdGroup.prefillLabels));
    issues.push(...checkLabelKeys('spec.workloadSelector.pdGroup.decodeLabels', sel.pdGroup.decodeLabels));
  }
  return issues;
}

function checkStringMatch(path: string, m: { exact?: string; prefix?: string; regex?: string }): Issue[] {
  // None set matches every value (as in Kthena); two or more is ambiguous.
  const set = [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length;
  if (set > 1) return [{ path, message: `set at most one of exact, prefix or regex (found ${set}); none matches every value` }];
  if (m.regex !== undefined) {
    try {
      new RegExp(m.regex);
    } catch (err) {
      return [{ path: `${path}.regex`, message: `not a valid regular expression: ${(err as Error).message}` }];
    }
  }
  return [];
}

/**
 * Validates one decoded object of a kind Sluice reads, applying schema defaults. Returns the
 * defaulted object, or every issue found. Unknown kinds are an issue too.
 */
export function validateObject(raw: unknown): ValidationResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, issues: [{ path: '', message: `expected a Kubernetes object (got ${describe(raw)})` }] };
  }
  const obj = raw as Record<string, unknown>;
  const key = `${obj.apiVersion}/${obj.kind}`;
  const schema = SCHEMAS[key];
  if (!schema) {
    return { ok: false, issues: [{ path: 'kind', message: `unsupported apiVersion/kind ${key}; expected one of ${Object.keys(SCHEMAS).join(', ')}` }] };
  }
  const value = Value.Default(schema, Value.Clone(raw));
  const issues: Issue[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(schema, value)) {
    // Union members and nested checks can report the same spot twice; keep the first.
    // A Secret's values are never repeated, even in an error (docs/security.md).
    const issue = { path: toFieldPath(e.path), message: explain(obj.kind === 'Secret' ? { ...e, value: REDACTED } : e) };
    const id = `${issue.path}\u0000${issue.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      issues.push(issue);
    }
  }
  if (issues.length === 0 && obj.kind === 'ModelRoute') issues.push(...checkModelRoute(value as ModelRoute));
  if (issues.length === 0 && obj.kind === 'ModelServer') issues.push(...checkModelServer(value as ModelServer));
  if (issues.length === 0 && obj.kind === 'ExternalModelProvider') issues.push(...checkExternalProvider(value as ExternalModelProvider));
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, object: value as ModelRoute };
}
