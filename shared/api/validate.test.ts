import { toFieldPath, validateObject, type Issue } from './validate';

const route = (spec: unknown) => ({ apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelRoute', metadata: { name: 'r', namespace: 'default' }, spec });
const server = (spec: unknown) => ({ apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelServer', metadata: { name: 's', namespace: 'default' }, spec });
const sel = { matchLabels: { app: 'a' } };
const issuesOf = (obj: unknown): Issue[] => {
  const r = validateObject(obj);
  return r.ok ? [] : r.issues;
};

describe('validateObject', () => {
  it('applies schema defaults (weight 100, protocol http, retryInterval 100ms, unit second)', () => {
    const r = validateObject(route({ modelName: 'm', rules: [{ targetModels: [{ modelServerName: 's' }] }], rateLimit: { inputTokensPerUnit: 10 } }));
    expect(r.ok).toBe(true);
    const spec = (r as { object: { spec: { rules: { targetModels: { weight: number }[] }[]; rateLimit: { unit: string } } } }).object.spec;
    expect(spec.rules[0]!.targetModels[0]!.weight).toBe(100);
    expect(spec.rateLimit.unit).toBe('second');
    const s = validateObject(server({ inferenceEngine: 'vLLM', workloadSelector: sel, workloadPort: { port: 8000 }, trafficPolicy: { retry: { attempts: 2 } } }));
    expect(s.ok).toBe(true);
    const sspec = (s as { object: { spec: { workloadPort: { protocol: string }; trafficPolicy: { retry: { retryInterval: string } } } } }).object.spec;
    expect(sspec.workloadPort.protocol).toBe('http');
    expect(sspec.trafficPolicy.retry.retryInterval).toBe('100ms');
  });

  it.each([
    ['weight above 100', route({ modelName: 'm', rules: [{ targetModels: [{ modelServerName: 'a' }, { modelServerName: 'b', weight: 150 }] }] }), 'spec.rules[0].targetModels[1].weight', /at most 100/],
    ['unknown field', route({ modelName: 'm', rulez: [], rules: [{ targetModels: [{ modelServerName: 'a' }] }] }), 'spec.rulez', /unknown field/],
    ['missing rules', route({ modelName: 'm' }), 'spec.rules', /required/],
    ['empty targetModels', route({ modelName: 'm', rules: [{ targetModels: [] }] }), 'spec.rules[0].targetModels', /at least 1/],
    ['neither modelName nor loraAdapters', route({ rules: [{ targetModels: [{ modelServerName: 'a' }] }] }), 'spec', /modelName or spec.loraAdapters/],
    ['two matchers on a header', route({ modelName: 'm', rules: [{ modelMatch: { headers: { 'user-type': { exact: 'a', prefix: 'b' } } }, targetModels: [{ modelServerName: 'a' }] }] }), 'spec.rules[0].modelMatch.headers["user-type"]', /at most one of exact, prefix or regex \(found 2\)/],
    ['all weights zero in a rule', route({ modelName: 'm', rules: [{ targetModels: [{ modelServerName: 'a' }] }, { targetModels: [{ modelServerName: 'a', weight: 0 }, { modelServerName: 'b', weight: 0 }] }] }), 'spec.rules[1].targetModels', /every target has weight 0.*give at least one target a weight above 0/],
    ['an empty workloadSelector', server({ inferenceEngine: 'vLLM', workloadSelector: {} }), 'spec.workloadSelector', /selects every pod in the namespace; set matchLabels/],
    ['empty matchLabels', server({ inferenceEngine: 'vLLM', workloadSelector: { matchLabels: {} } }), 'spec.workloadSelector', /selects every pod/],
    ['a label key with a space', server({ inferenceEngine: 'vLLM', workloadSelector: { matchLabels: { 'my app': 'a' } } }), 'spec.workloadSelector.matchLabels["my app"]', /invalid label key "my app"; label keys are \[prefix\/\]name/],
    ['a label key with an upper-case prefix', server({ inferenceEngine: 'vLLM', workloadSelector: { matchLabels: { 'Example.com/app': 'a' } } }), 'spec.workloadSelector.matchLabels["Example.com/app"]', /invalid label key/],
    ['a label name over 63 characters', server({ inferenceEngine: 'vLLM', workloadSelector: { matchLabels: { ['a'.repeat(64)]: 'a' } } }), `spec.workloadSelector.matchLabels["${'a'.repeat(64)}"]`, /at most 63/],
    ['a bad pdGroup groupKey', server({ inferenceEngine: 'vLLM', workloadSelector: { pdGroup: { groupKey: '-group', prefillLabels: { role: 'p' }, decodeLabels: { 'role/': 'd' } } } }), 'spec.workloadSelector.pdGroup.groupKey', /groupKey "-group" is not a label key/],
    ['a bad decodeLabels key', server({ inferenceEngine: 'vLLM', workloadSelector: { pdGroup: { groupKey: 'group', prefillLabels: { role: 'p' }, decodeLabels: { 'role/': 'd' } } } }), 'spec.workloadSelector.pdGroup.decodeLabels["role/"]', /invalid label key/],
    ['bad regex', route({ modelName: 'm', rules: [{ modelMatch: { uri: { regex: '(' } }, targetModels: [{ modelServerName: 'a' }] }] }), 'spec.rules[0].modelMatch.uri.regex', /regular expression/],
    ['bad engine', server({ inferenceEngine: 'vllm', workloadSelector: sel }), 'spec.inferenceEngine', /one of vLLM, SGLang, TGI/],
    ['bad timeout', server({ inferenceEngine: 'vLLM', workloadSelector: sel, trafficPolicy: { timeout: '10 sec' } }), 'spec.trafficPolicy.timeout', /duration/],
    ['bad port', server({ inferenceEngine: 'vLLM', workloadSelector: sel, workloadPort: { port: 70000 } }), 'spec.workloadPort.port', /at most 65535/],
    ['pdGroup without groupKey', server({ inferenceEngine: 'vLLM', workloadSelector: { pdGroup: { prefillLabels: {}, decodeLabels: {} } } }), 'spec.workloadSelector.pdGroup.groupKey', /required/],
  ])('%s is reported at its field path', (_name, obj, path, message) => {
    const issues = issuesOf(obj);
    const hit = issues.find((i) => i.path === path);
    expect(hit).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it.each([
    ['a header match with no matcher (matches every request, as in Kthena)', route({ modelName: 'm', rules: [{ modelMatch: { headers: { 'x-any': {} }, uri: {} }, targetModels: [{ modelServerName: 'a' }] }] })],
    ['one zero weight beside a positive one', route({ modelName: 'm', rules: [{ targetModels: [{ modelServerName: 'a', weight: 0 }, { modelServerName: 'b', weight: 1 }] }] })],
    ['prefixed label keys and a pdGroup without matchLabels', server({ inferenceEngine: 'vLLM', workloadSelector: { pdGroup: { groupKey: 'modelserving.volcano.sh/group', prefillLabels: { 'app.kubernetes.io/role': 'prefill' }, decodeLabels: { 'app.kubernetes.io/role': 'decode' } } } })],
  ])('accepts %s', (_name, obj) => expect(issuesOf(obj)).toEqual([]));

  it('accepts an object as the API server returns it: managed fields, uid, status conditions with times', () => {
    const r = validateObject({ ...route({ modelName: 'm', rules: [{ targetModels: [{ modelServerName: 's' }] }] }),
      metadata: { name: 'r', namespace: 'default', uid: 'u', managedFields: [{ manager: 'kubectl' }], generation: 2 },
      status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', lastTransitionTime: '2026-11-21T20:00:00Z', observedGeneration: 2 }] } });
    expect(r.ok).toBe(true);
  });

  it('lists every problem at once', () => {
    const issues = issuesOf(server({ inferenceEngine: 'vllm', workloadSelector: sel, workloadPort: { port: 0 }, trafficPolicy: { timeout: 'soon' } }));
    expect(issues.map((i) => i.path).sort()).toEqual(['spec.inferenceEngine', 'spec.trafficPolicy.timeout', 'spec.workloadPort.port']);
  });

  it('refuses unknown kinds by name', () => {
    expect(issuesOf({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' } })[0]!.message).toMatch(/unsupported apiVersion\/kind v1\/Service/);
  });

  it.each([
    ['/spec/rules/1/targetModels/0/weight', 'spec.rules[1].targetModels[0].weight'],
    ['/metadata/labels/app.kubernetes.io~1name', 'metadata.labels["app.kubernetes.io/name"]'],
  ])('toFieldPath(%s)', (pointer, path) => expect(toFieldPath(pointer)).toBe(path));
});
