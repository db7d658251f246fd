import { validateObject, type Issue } from './validate';

const provider = (spec: unknown) => ({ apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ExternalModelProvider', metadata: { name: 'p', namespace: 'default' }, spec });
const route = (spec: unknown) => ({ apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelRoute', metadata: { name: 'r', namespace: 'default' }, spec });
const issuesOf = (obj: unknown): Issue[] => {
  const r = validateObject(obj);
  return r.ok ? [] : r.issues;
};

describe('ExternalModelProvider validation', () => {
  it('accepts Kthena\'s example and applies the defaults', () => {
    const r = validateObject(provider({ providerType: 'OpenAI', model: 'deepseek-chat', baseURL: 'https://api.deepseek.com', auth: { secretRef: { name: 'deepseek-api-key', key: 'apiKey' } } }));
    expect(r.ok).toBe(true);
    const spec = (r as { object: { spec: Record<string, unknown> } }).object.spec;
    expect(spec).toMatchObject({ allowInsecure: false, insecureSkipVerify: false, providerType: 'OpenAI' });
    expect(issuesOf(provider({ baseURL: 'http://mock.default.svc:8080/v1', allowInsecure: true }))).toEqual([]);
  });

  it.each([
    ['http without allowInsecure', { baseURL: 'http://api.example.com' }, 'spec.baseURL', /https:\/\/ unless allowInsecure/],
    ['insecureSkipVerify on http', { baseURL: 'http://a.example', allowInsecure: true, insecureSkipVerify: true }, 'spec.insecureSkipVerify', /https:\/\/ baseURL only/],
    ['user info in the URL', { baseURL: 'https://me:pw@api.example.com' }, 'spec.baseURL', /user info.*auth.secretRef/],
    ['a query string', { baseURL: 'https://api.example.com/v1?key=1' }, 'spec.baseURL', /query string/],
    ['a fragment', { baseURL: 'https://api.example.com/v1#x' }, 'spec.baseURL', /fragment/],
    ['another scheme', { baseURL: 'ftp://api.example.com' }, 'spec.baseURL', /must match/],
    ['an Authorization header', { baseURL: 'https://a.example', headers: { Authorization: 'Bearer x' } }, 'spec.headers["Authorization"]', /credentials go in auth.secretRef/],
    ['a Host header in another case', { baseURL: 'https://a.example', headers: { hOsT: 'b' } }, 'spec.headers["hOsT"]', /may not be set here/],
    ['a Proxy- header', { baseURL: 'https://a.example', headers: { 'Proxy-Foo': 'b' } }, 'spec.headers["Proxy-Foo"]', /may not be set here/],
    ['a bad header name', { baseURL: 'https://a.example', headers: { 'a b': 'c' } }, 'spec.headers["a b"]', /not a valid HTTP header name/],
    ['an optional secret', { baseURL: 'https://a.example', auth: { secretRef: { name: 's', key: 'k', optional: true } } }, 'spec.auth.secretRef.optional', /must be false or unset/],
    ['an unknown providerType', { baseURL: 'https://a.example', providerType: 'Anthropic' }, 'spec.providerType', /must be one of OpenAI/],
  ])('refuses %s, naming the field', (_what, spec, path, message) => {
    const issues = issuesOf(provider(spec));
    expect(issues).toEqual(expect.arrayContaining([expect.objectContaining({ path, message: expect.stringMatching(message) })]));
  });

  it('never repeats a Secret\'s content in an error', () => {
    const issues = issuesOf({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { apiKey: 12345678 } });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('stringData.apiKey');
    expect(JSON.stringify(issues)).not.toContain('12345678');
  });
});

describe('ModelRoute targets', () => {
  it('takes an external target, alone or weighted with a ModelServer', () => {
    expect(issuesOf(route({ modelName: 'deepseek', rules: [{ targetModels: [{ externalModelProviderName: 'deepseek-provider' }] }] }))).toEqual([]);
    expect(issuesOf(route({ modelName: 'qwen', rules: [{ targetModels: [{ modelServerName: 'qwen-local', weight: 80 }, { externalModelProviderName: 'openai', weight: 20 }] }] }))).toEqual([]);
  });

  it.each([
    ['both destinations', [{ modelServerName: 'a', externalModelProviderName: 'b' }], 'spec.rules[0].targetModels[0]'],
    ['neither destination', [{ weight: 10 }], 'spec.rules[0].targetModels[0]'],
    ['an empty name', [{ modelServerName: '' }], 'spec.rules[0].targetModels[0]'],
  ])('refuses a target with %s', (_what, targetModels, path) => {
    expect(issuesOf(route({ modelName: 'm', rules: [{ targetModels }] }))).toEqual([{ path, message: 'set exactly one of modelServerName (pods) or externalModelProviderName (an external API)' }]);
  });

  it('refuses an external target on a route with loraAdapters', () => {
    expect(issuesOf(route({ modelName: 'm', loraAdapters: ['a'], rules: [{ targetModels: [{ externalModelProviderName: 'p' }] }] })))
      .toEqual([{ path: 'spec.rules[0].targetModels[0].externalModelProviderName', message: expect.stringMatching(/loraAdapters can only target ModelServers.*separate ModelRoute/) }]);
  });
});
