/**
 * ExternalModelProvider (networking.serving.volcano.sh/v1alpha1): an OpenAI-compatible API outside
 * the cluster (OpenAI, DeepSeek, a company gateway) that a ModelRoute target can send traffic to
 * instead of a ModelServer. Field for field Kthena's resource, so Kthena YAML applies unchanged.
 * The credential stays in a Secret; the operator delivers it to the data planes out of band and
 * the routing snapshot only names it (docs/external-providers.md).
 */
import { Type, type Static } from '@sinclair/typebox';
import { Condition, ObjectMeta, StringEnum, StringMap } from './schema-kit';

/** Provider adapters; `OpenAI` is the OpenAI-compatible API, whoever runs it. */
export const PROVIDER_TYPES = ['OpenAI'] as const;

/**
 * Static headers a provider may not set: credentials (they belong in `auth.secretRef`), routing
 * headers the proxy sets itself, and hop-by-hop headers. Compared case-insensitively.
 */
export const FORBIDDEN_PROVIDER_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key',
  'host', 'content-length', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect'] as const;

/** A key of a Secret in the provider's namespace (corev1.SecretKeySelector). */
export const SecretKeySelector = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 253, description: 'Name of the Secret, in the same namespace as the provider.' }),
  key: Type.String({ minLength: 1, maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$', description: 'The key of the Secret whose value is the API key.' }),
  optional: Type.Optional(Type.Boolean({ description: 'Must be false or unset: a provider with auth never sends a request without its credential.' })),
}, { additionalProperties: false, description: 'Selects a key of a Secret in the provider\'s namespace.' });

/** How Sluice authenticates to the provider. */
export const ProviderAuth = Type.Object({
  secretRef: SecretKeySelector,
}, {
  additionalProperties: false,
  description: 'The credential, sent as `Authorization: Bearer <value>`. Unset: no credential is sent.',
  'x-kubernetes-validations': [{ rule: '!has(self.secretRef.optional) || !self.secretRef.optional', message: 'secretRef.optional must be false or unset: a provider with auth needs its credential', fieldPath: '.secretRef.optional' }],
});

/** ExternalModelProvider spec. */
export const ExternalModelProviderSpec = Type.Object({
  providerType: Type.Optional(StringEnum(PROVIDER_TYPES, { default: 'OpenAI', description: 'The API adapter. OpenAI: the OpenAI-compatible API, which DeepSeek, Gemini\'s /v1beta/openai and most gateways also speak.' })),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'The model name the provider knows; it replaces the request\'s `model`. Unset: the request\'s model is sent unchanged.' })),
  baseURL: Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://.+', description: 'The provider\'s OpenAI-compatible API root, e.g. https://api.deepseek.com or https://api.openai.com/v1. A request to /v1/chat/completions goes to <baseURL>/chat/completions. No user info, query or fragment.' }),
  allowInsecure: Type.Optional(Type.Boolean({ default: false, description: 'Allow an http:// baseURL (a local or in-cluster provider). Traffic, credential included, is then unencrypted.' })),
  insecureSkipVerify: Type.Optional(Type.Boolean({ default: false, description: 'HTTPS only: do not verify the provider\'s certificate chain and host name. Prefer adding its CA to the data plane (NODE_EXTRA_CA_CERTS).' })),
  auth: Type.Optional(ProviderAuth),
  headers: Type.Optional(StringMap({ maxProperties: 32, description: 'Non-secret headers added to every request to the provider (e.g. OpenAI-Organization). Credential, routing and hop-by-hop headers are refused.' })),
}, {
  additionalProperties: false,
  description: 'Where and how Sluice reaches the provider.',
  'x-kubernetes-validations': [
    { rule: 'self.baseURL.startsWith(\'https://\') || (has(self.allowInsecure) && self.allowInsecure)', message: 'baseURL must be https:// unless allowInsecure is true', fieldPath: '.baseURL' },
    { rule: '!has(self.insecureSkipVerify) || !self.insecureSkipVerify || self.baseURL.startsWith(\'https://\')', message: 'insecureSkipVerify applies to an https:// baseURL only', fieldPath: '.insecureSkipVerify' },
  ],
});

/** Observed state written by the operator. */
export const ExternalModelProviderStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, description: 'The .metadata.generation the status describes.' })),
  conditions: Type.Optional(Type.Array(Condition, { description: 'Accepted (the spec is valid), CredentialsResolved (the Secret and key exist), Ready (usable by routes) and Programmed (served by the data planes).' })),
}, { additionalProperties: false, description: 'What the operator observed: whether the provider can be used, and why not.' });

/** The ExternalModelProvider object. */
export const ExternalModelProvider = Type.Object({
  apiVersion: Type.Literal('networking.serving.volcano.sh/v1alpha1'),
  kind: Type.Literal('ExternalModelProvider'),
  metadata: ObjectMeta,
  spec: ExternalModelProviderSpec,
  status: Type.Optional(ExternalModelProviderStatus),
}, { additionalProperties: false });

/** An ExternalModelProvider with defaults applied. */
export type ExternalModelProvider = Static<typeof ExternalModelProvider>;

/** Checks the schema cannot express (the URL parsed, header names). Paths are from the object root. */
export function checkExternalProvider(p: ExternalModelProvider): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const spec = p.spec;
  let url: URL | null = null;
  try {
    url = new URL(spec.baseURL);
  } catch {
    issues.push({ path: 'spec.baseURL', message: `not a URL (got ${JSON.stringify(spec.baseURL)}); write it as https://host[:port][/path]` });
  }
  if (url) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') issues.push({ path: 'spec.baseURL', message: 'must start with https:// (or http:// with allowInsecure: true)' });
    if (url.protocol === 'http:' && !spec.allowInsecure) issues.push({ path: 'spec.baseURL', message: 'baseURL must be https:// unless allowInsecure is true; set allowInsecure: true only for a local or in-cluster provider' });
    if (url.protocol === 'http:' && spec.insecureSkipVerify) issues.push({ path: 'spec.insecureSkipVerify', message: 'insecureSkipVerify applies to an https:// baseURL only; remove it' });
    if (url.username || url.password) issues.push({ path: 'spec.baseURL', message: 'must not carry user info (user:password@); put the credential in a Secret and reference it from auth.secretRef' });
    if (url.search || spec.baseURL.includes('?')) issues.push({ path: 'spec.baseURL', message: 'must not have a query string; remove everything from ?' });
    if (url.hash || spec.baseURL.includes('#')) issues.push({ path: 'spec.baseURL', message: 'must not have a fragment; remove everything from #' });
  }
  if (spec.auth?.secretRef.optional) issues.push({ path: 'spec.auth.secretRef.optional', message: 'must be false or unset: a provider with auth needs its credential; remove auth for a provider that needs none' });
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    const lower = name.toLowerCase();
    const path = `spec.headers[${JSON.stringify(name)}]`;
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) issues.push({ path, message: 'not a valid HTTP header name (letters, digits and !#$%&\'*+-.^_`|~ only)' });
    else if ((FORBIDDEN_PROVIDER_HEADERS as readonly string[]).includes(lower) || lower.startsWith('proxy-')) {
      issues.push({ path, message: `${name} may not be set here: credentials go in auth.secretRef (sent as Authorization: Bearer), and routing and hop-by-hop headers are set by Sluice` });
    }
    if (/[\r\n\0]/.test(value)) issues.push({ path, message: 'header values may not contain line breaks or NUL' });
  }
  return issues;
}
