/**
 * The generated CRDs on a real kube-apiserver: `kubectl apply` refuses bad ModelRoutes and
 * ModelServers with a message that names the field and the rule (OpenAPI limits, enums, patterns,
 * strict field validation and the CEL rules), applies defaults, and takes every seed example.
 */
import yaml from 'js-yaml';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startKubeApiserver, type KubeApi } from './helpers/kube-apiserver';
import { ROOT } from './helpers/processes';
import { testsNeeding } from './helpers/requirements';

// Skipped, with one line saying how to enable them, when kube is missing (failed under SLUICE_REQUIRE_ALL_TESTS=1).
const { describe, it, beforeAll, afterAll } = testsNeeding('kube');

jest.setTimeout(180_000);

const API_VERSION = 'networking.serving.volcano.sh/v1alpha1';
const EXAMPLES = join(ROOT, 'manifests', 'examples');

type Obj = Record<string, any>;

let kube: KubeApi;

beforeAll(async () => {
  kube = await startKubeApiserver();
  await ok(['apply', '-k', join(ROOT, 'crds')]);
  await ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/modelroutes.networking.serving.volcano.sh', 'crd/modelservers.networking.serving.volcano.sh', 'crd/externalmodelproviders.networking.serving.volcano.sh']);
});

afterAll(async () => {
  await kube?.stop();
});

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kube.kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}\n${kube.logs(20)}`);
  return r.stdout;
}

/** `kubectl apply` of one object, as YAML on stdin. */
const apply = (obj: Obj) => kube.kubectl(['apply', '-f', '-'], { input: yaml.dump(obj) });

const route = (name: string, spec: Obj): Obj => ({ apiVersion: API_VERSION, kind: 'ModelRoute', metadata: { name, namespace: 'default' }, spec });
const provider = (name: string, spec: Obj): Obj => ({ apiVersion: API_VERSION, kind: 'ExternalModelProvider', metadata: { name, namespace: 'default' }, spec });
const server = (name: string, spec: Obj): Obj => ({ apiVersion: API_VERSION, kind: 'ModelServer', metadata: { name, namespace: 'default' }, spec });
const targets = [{ targetModels: [{ modelServerName: 'a' }] }];
const serverSpec = { inferenceEngine: 'vLLM', workloadSelector: { matchLabels: { app: 'a' } } };
const headers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, { exact: 'v' }]));

describe('kubectl apply refuses', () => {
  const cases: [string, Obj, string[]][] = [
    ['a weight above 100', route('weight-150', { modelName: 'm', rules: [{ targetModels: [{ modelServerName: 'a', weight: 150 }] }] }),
      ['The ModelRoute "weight-150" is invalid', 'spec.rules[0].targetModels[0].weight: Invalid value: 150', 'should be less than or equal to 100']],
    ['a route with neither modelName nor loraAdapters', route('no-model', { rules: targets }),
      ['The ModelRoute "no-model" is invalid', 'spec: Invalid value', 'set spec.modelName or spec.loraAdapters (or both)']],
    ['a route whose modelName and loraAdapters are both empty', route('empty-model', { modelName: '', loraAdapters: [], rules: targets }),
      ['spec: Invalid value', 'set spec.modelName or spec.loraAdapters (or both)']],
    ['a header match with both exact and prefix', route('two-matchers', { modelName: 'm', rules: [{ modelMatch: { headers: { 'user-type': { exact: 'premium', prefix: 'prem' } } }, targetModels: [{ modelServerName: 'a' }] }] }),
      ['spec.rules[0].modelMatch.headers[user-type]: Invalid value', 'set at most one of exact, prefix or regex']],
    ['a uri match with both prefix and regex', route('two-uri-matchers', { modelName: 'm', rules: [{ modelMatch: { uri: { prefix: '/v1', regex: '^/v1' } }, targetModels: [{ modelServerName: 'a' }] }] }),
      ['spec.rules[0].modelMatch.uri: Invalid value', 'set at most one of exact, prefix or regex (none matches every value)']],
    ['a rule whose weights are all 0', route('all-zero', { modelName: 'm', rules: [{ targetModels: [{ modelServerName: 'a', weight: 0 }, { modelServerName: 'b', weight: 0 }] }] }),
      ['spec.rules[0].targetModels: Invalid value', 'every target has weight 0', 'give at least one target a weight above 0 (unset means 100)']],
    ['an empty workloadSelector', server('empty-selector', { inferenceEngine: 'vLLM', workloadSelector: {} }),
      ['spec.workloadSelector: Invalid value', 'workloadSelector selects every pod in the namespace; set matchLabels (e.g. {app: my-model}) or pdGroup']],
    ['a workloadSelector with empty matchLabels', server('empty-labels', { inferenceEngine: 'vLLM', workloadSelector: { matchLabels: {} } }),
      ['spec.workloadSelector: Invalid value', 'selects every pod in the namespace']],
    ['an invalid label key in matchLabels', server('bad-label', { inferenceEngine: 'vLLM', workloadSelector: { matchLabels: { 'my app': 'a' } } }),
      ['spec.workloadSelector.matchLabels: Invalid value', 'invalid label key; label keys are [prefix/]name']],
    ['an invalid label key in decodeLabels', server('bad-decode-label', { inferenceEngine: 'vLLM', workloadSelector: { pdGroup: { groupKey: 'group', prefillLabels: { role: 'p' }, decodeLabels: { 'role/': 'd' } } } }),
      ['spec.workloadSelector.pdGroup.decodeLabels: Invalid value', 'invalid label key']],
    ['an invalid pdGroup groupKey', server('bad-group-key', { inferenceEngine: 'vLLM', workloadSelector: { pdGroup: { groupKey: '-group', prefillLabels: { role: 'p' }, decodeLabels: { role: 'd' } } } }),
      ['spec.workloadSelector.pdGroup.groupKey: Invalid value', 'groupKey is not a label key']],
    ['more than 16 header matches', route('many-headers', { modelName: 'm', rules: [{ modelMatch: { headers: headers(17) }, targetModels: [{ modelServerName: 'a' }] }] }),
      ['spec.rules[0].modelMatch.headers: Too many: 17: must have at most 16 items']],
    ['a route without rules', route('no-rules', { modelName: 'm' }), ['spec.rules: Required value']],
    ['a rule without targets', route('no-targets', { modelName: 'm', rules: [{ targetModels: [] }] }),
      ['spec.rules[0].targetModels: Invalid value: 0', 'should have at least 1 items']],
    ['an unknown rate-limit unit', route('per-week', { modelName: 'm', rules: targets, rateLimit: { inputTokensPerUnit: 10, unit: 'week' } }),
      ['spec.rateLimit.unit: Unsupported value: "week": supported values: "second", "minute", "hour", "day", "month"']],
    ['an unknown field (strict field validation)', route('typo', { modelName: 'm', rulez: [], rules: targets }),
      ['ModelRoute in version "v1alpha1" cannot be handled as a ModelRoute', 'strict decoding error: unknown field "spec.rulez"']],
    ['an unknown inference engine', server('triton', { ...serverSpec, inferenceEngine: 'Triton' }),
      ['The ModelServer "triton" is invalid', 'spec.inferenceEngine: Unsupported value: "Triton": supported values: "vLLM", "SGLang", "TGI"']],
    ['a timeout that is not a duration', server('slow', { ...serverSpec, trafficPolicy: { timeout: '10 seconds' } }),
      ['spec.trafficPolicy.timeout: Invalid value: "10 seconds"', "should match '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$'"]],
    ['port 0', server('port-0', { ...serverSpec, workloadPort: { port: 0 } }),
      ['spec.workloadPort.port: Invalid value: 0', 'should be greater than or equal to 1']],
    ['port 65536', server('port-65536', { ...serverSpec, workloadPort: { port: 65536 } }),
      ['spec.workloadPort.port: Invalid value: 65536', 'should be less than or equal to 65535']],
    ['more than 10 retry attempts', server('retry-11', { ...serverSpec, trafficPolicy: { retry: { attempts: 11 } } }),
      ['spec.trafficPolicy.retry.attempts: Invalid value: 11', 'should be less than or equal to 10']],
    ['a ModelServer without workloadSelector', server('no-selector', { inferenceEngine: 'vLLM' }), ['spec.workloadSelector: Required value']],
    ['a target with both a ModelServer and a provider', route('both-targets', { modelName: 'm', rules: [{ targetModels: [{ modelServerName: 'a', externalModelProviderName: 'p' }] }] }),
      ['spec.rules[0].targetModels[0]: Invalid value', 'set exactly one of modelServerName (pods) or externalModelProviderName (an external API)']],
    ['a target with neither', route('no-target', { modelName: 'm', rules: [{ targetModels: [{ weight: 10 }] }] }),
      ['spec.rules[0].targetModels[0]: Invalid value', 'set exactly one of modelServerName']],
    ['a provider target on a LoRA route', route('lora-external', { modelName: 'm', loraAdapters: ['a'], rules: [{ targetModels: [{ externalModelProviderName: 'p' }] }] }),
      ['spec.rules: Invalid value', 'a route with loraAdapters can only target ModelServers']],
    ['a provider with an http baseURL', provider('plain-http', { baseURL: 'http://api.example.com' }),
      ['The ExternalModelProvider "plain-http" is invalid', 'spec.baseURL: Invalid value', 'baseURL must be https:// unless allowInsecure is true']],
    ['a provider skipping verification on http', provider('skip-http', { baseURL: 'http://a.example', allowInsecure: true, insecureSkipVerify: true }),
      ['spec.insecureSkipVerify: Invalid value', 'insecureSkipVerify applies to an https:// baseURL only']],
    ['a provider with an optional Secret', provider('optional-secret', { baseURL: 'https://a.example', auth: { secretRef: { name: 's', key: 'k', optional: true } } }),
      ['spec.auth.secretRef.optional: Invalid value', 'secretRef.optional must be false or unset']],
    ['a provider with another scheme', provider('ftp', { baseURL: 'ftp://a.example' }),
      ['spec.baseURL: Invalid value: "ftp://a.example"', "should match '^https?://.+'"]],
  ];

  it.each(cases)('%s', async (_, obj, fragments) => {
    const r = await apply(obj);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    for (const f of fragments) expect(r.stderr).toContain(f);
    // Nothing was stored.
    const got = await kube.kubectl(['get', obj.kind.toLowerCase(), obj.metadata.name, '-n', 'default']);
    expect(got.stderr).toContain('NotFound');
  });
});

describe('modelName is immutable', () => {
  const IMMUTABLE = 'spec.modelName: Invalid value: modelName is immutable: it cannot be added, changed or removed; create a new ModelRoute instead';

  // Each case creates its own route, then applies `after` on top of it.
  const cases: [string, Obj, Obj][] = [
    ['changed', { modelName: 'before', rules: targets }, { modelName: 'after', rules: targets }],
    ['removed (the route keeps serving LoRA adapters)', { modelName: 'before', loraAdapters: ['lora-a'], rules: targets }, { loraAdapters: ['lora-a'], rules: targets }],
    ['added to a LoRA-only route', { loraAdapters: ['lora-a'], rules: targets }, { modelName: 'after', loraAdapters: ['lora-a'], rules: targets }],
  ];

  it.each(cases)('refuses modelName %s', async (what, before, after) => {
    const name = `immutable-${cases.findIndex((c) => c[0] === what)}`;
    expect((await apply(route(name, before))).code).toBe(0);
    const r = await apply(route(name, after));
    expect([r.code, r.stderr.trim()]).toEqual([1, `The ModelRoute "${name}" is invalid: ${IMMUTABLE}`]);
    expect(JSON.parse(await ok(['get', 'modelroute', name, '-n', 'default', '-o', 'json'])).spec.modelName).toBe(before.modelName);
  });

  it('still takes other spec changes and status updates, with and without a modelName', async () => {
    for (const [name, spec] of [['mutable-model', { modelName: 'm' }], ['mutable-lora', { loraAdapters: ['lora-a'] }]] as const) {
      expect((await apply(route(name, { ...spec, rules: targets }))).code).toBe(0);
      const changed = { ...spec, rules: [{ targetModels: [{ modelServerName: 'b', weight: 30 }, { modelServerName: 'c', weight: 70 }] }], rateLimit: { outputTokensPerUnit: 100 } };
      const r = await apply(route(name, changed));
      expect([r.code, r.stdout.trim()]).toEqual([0, `modelroute.networking.serving.volcano.sh/${name} configured`]);
      const status = { status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 2 }] } };
      expect(await ok(['patch', 'modelroute', name, '-n', 'default', '--subresource=status', '--type=merge', '-p', JSON.stringify(status)])).toContain('patched');
    }
  });
});

describe('kubectl apply accepts', () => {
  it('the boundaries of every limit, and fills in the defaults', async () => {
    const spec = {
      modelName: 'edges',
      loraAdapters: Array.from({ length: 10 }, (_, i) => `lora-${i}`),
      parentRefs: [{ name: 'gw' }],
      rules: [
        { name: 'regex', modelMatch: { headers: headers(16), uri: { regex: '^/v1/' }, body: { model: 'edges' } }, targetModels: [{ modelServerName: 'a', weight: 0 }, { modelServerName: 'b', weight: 100 }] },
        { targetModels: [{ modelServerName: 'c' }] },
        // No matcher: matches every request, as in Kthena.
        { modelMatch: { headers: { 'x-any': {} }, uri: {} }, targetModels: [{ modelServerName: 'd' }] },
      ],
      rateLimit: { inputTokensPerUnit: 1, global: { redis: { address: 'redis:6379' } } },
    };
    expect((await apply(route('edges', spec))).stdout).toContain('created');
    const r = JSON.parse(await ok(['get', 'modelroute', 'edges', '-n', 'default', '-o', 'json'])).spec;
    expect(r.rules[1].targetModels[0].weight).toBe(100);
    expect(r.rateLimit.unit).toBe('second');
    expect(r.parentRefs[0]).toEqual({ name: 'gw', group: 'gateway.networking.k8s.io', kind: 'Gateway' });

    const pd = { inferenceEngine: 'vLLM', workloadSelector: { pdGroup: { groupKey: 'modelserving.volcano.sh/group', prefillLabels: { 'app.kubernetes.io/role': 'prefill' }, decodeLabels: { 'app.kubernetes.io/role': 'decode' } } } };
    expect((await apply(server('edges-pd', pd))).stdout).toContain('created');
    const ms = { ...serverSpec, workloadPort: { port: 65535 }, trafficPolicy: { timeout: '1m30.5s', retry: { attempts: 10 } }, kvConnector: {} };
    expect((await apply(server('edges', ms))).stdout).toContain('created');
    const s = JSON.parse(await ok(['get', 'modelserver', 'edges', '-n', 'default', '-o', 'json'])).spec;
    expect(s.workloadPort).toEqual({ port: 65535, protocol: 'http' });
    expect(s.trafficPolicy.retry).toEqual({ attempts: 10, retryInterval: '100ms' });
    expect(s.kvConnector).toEqual({ type: 'http' });
  });

  it('every seed example: the quickstart routes and servers and the scheduler ConfigMaps, with no warning', async () => {
    const files = [
      ...readdirSync(join(EXAMPLES, 'quickstart')).filter((f) => f.endsWith('.yaml') && f !== 'pods.yaml').map((f) => join(EXAMPLES, 'quickstart', f)),
      ...readdirSync(join(EXAMPLES, 'scheduler')).filter((f) => f.endsWith('.yaml')).map((f) => join(EXAMPLES, 'scheduler', f)),
    ];
    expect(files.length).toBeGreaterThanOrEqual(8);
    const r = await kube.kubectl(['apply', '--validate=strict', ...files.flatMap((f) => ['-f', f])]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const stored = JSON.parse(await ok(['get', 'modelroutes,modelservers,configmaps', '-n', 'default', '-o', 'json'])).items as Obj[];
    const names = stored.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toEqual(expect.arrayContaining([
      'ModelRoute/deepseek-lora', 'ModelRoute/deepseek-multi-models', 'ModelRoute/deepseek-simple', 'ModelRoute/deepseek-subset',
      'ModelServer/deepseek-r1-7b', 'ModelServer/deepseek-r1-1-5b', 'ModelServer/deepseek-r1-1-5b-v1', 'ModelServer/deepseek-r1-1-5b-v2',
      'ConfigMap/kthena-router-config', 'ConfigMap/sluice-router-config',
    ]));
  });
});
