import { type Issue } from '../api/validate';
import { parseKthenaRouterConfiguration, parseKthenaScheduler } from './kthena-dialect';
import { type SchedulerConfig } from './scheduler-config';

/** The seed's schedulerConfiguration example (Kthena docs, "Basic Scheduler Configuration"), indentation restored. */
const SEED_SCHEDULER = `
pluginConfig:
  - name: least-request
    args:
      maxWaitingRequests: 10
  - name: least-latency
    args:
      TTFTTPOTWeightFactor: 0.5
  - name: prefix-cache
    args:
      blockSizeToHash: 64
      maxBlocksToMatch: 128
      maxHashCacheSize: 50000
plugins:
  Filter:
    enabled:
      - least-request
    disabled:
      - lora-affinity
  Score:
    enabled:
      - name: least-request
        weight: 1
      - name: kv-cache
        weight: 1
      - name: least-latency
        weight: 1
      - name: prefix-cache
        weight: 1
`;

/** The seed's routerConfiguration example: the same under scheduler:, plus auth. */
const SEED_ROUTER = `scheduler:\n${SEED_SCHEDULER.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n')}
auth:
  issuer: "testing@secure.istio.io"
  audiences: ["kthena.io"]
  jwksUri: "https://raw.githubusercontent.com/istio/istio/release-1.27/security/tools/jwt/samples/jwks.json"
`;

const ORIGIN = 'ConfigMap default/kthena-router-config key schedulerConfiguration';

const HANDLER_AND_PICKER = [
  { name: 'single-profile-handler', type: 'single-profile-handler', parameters: {} },
  { name: 'max-score-picker', type: 'max-score-picker', parameters: { maxNumOfEndpoints: 5 } },
];

const EXPECTED_SEED: SchedulerConfig = {
  source: 'kthena',
  origin: ORIGIN,
  plugins: [
    { name: 'least-request', type: 'least-request', parameters: { maxWaitingRequests: 10 } },
    { name: 'kv-cache', type: 'kv-cache-utilization-scorer', parameters: {} },
    { name: 'least-latency', type: 'least-latency', parameters: { TTFTTPOTWeightFactor: 0.5 } },
    { name: 'prefix-cache', type: 'prefix-cache-scorer', parameters: { hashBlockSize: 64, maxPrefixBlocksToMatch: 128, maxHashCacheSize: 50000, lruCapacityPerServer: 50000 } },
    ...HANDLER_AND_PICKER,
  ],
  profileHandler: 'single-profile-handler',
  profiles: [{
    name: 'default',
    filters: ['least-request'],
    scorers: [
      { plugin: 'least-request', weight: 1 },
      { plugin: 'kv-cache', weight: 1 },
      { plugin: 'least-latency', weight: 1 },
      { plugin: 'prefix-cache', weight: 1 },
    ],
    picker: 'max-score-picker',
  }],
};

/** Kthena's built-in set (scheduler_impl.go) with its built-in args. */
const EXPECTED_DEFAULT: SchedulerConfig = {
  source: 'kthena',
  origin: ORIGIN,
  plugins: [
    { name: 'least-request', type: 'least-request', parameters: { maxWaitingRequests: 10 } },
    { name: 'least-latency', type: 'least-latency', parameters: { TTFTTPOTWeightFactor: 0.5 } },
    { name: 'prefix-cache', type: 'prefix-cache-scorer', parameters: { hashBlockSize: 64, maxPrefixBlocksToMatch: 128, maxHashCacheSize: 50000, lruCapacityPerServer: 50000 } },
    ...HANDLER_AND_PICKER,
  ],
  profileHandler: 'single-profile-handler',
  profiles: [{
    name: 'default',
    filters: ['least-request'],
    scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'least-latency', weight: 1 }, { plugin: 'prefix-cache', weight: 1 }],
    picker: 'max-score-picker',
  }],
};

const issuesOf = (r: { issues: Issue[] } | object): Issue[] => ('issues' in r ? r.issues : []);

describe('parseKthenaScheduler', () => {
  it('normalises the seed schedulerConfiguration example', () => {
    expect(parseKthenaScheduler(SEED_SCHEDULER, ORIGIN)).toEqual({ config: EXPECTED_SEED });
  });

  it.each([
    ['empty text', ''],
    ['only a comment', '# nothing configured yet\n'],
    ['no plugins key', 'pluginConfig: []\n'],
  ])('runs Kthena\'s default plugin set for %s', (_name, text) => {
    expect(parseKthenaScheduler(text, ORIGIN)).toEqual({ config: EXPECTED_DEFAULT });
  });

  it('applies pluginConfig args to the default set when plugins is absent', () => {
    const r = parseKthenaScheduler('pluginConfig:\n  - name: least-request\n    args:\n      maxWaitingRequests: 3\n', ORIGIN);
    expect('config' in r && r.config.plugins[0]).toEqual({ name: 'least-request', type: 'least-request', parameters: { maxWaitingRequests: 3 } });
  });

  it('maps prefix-cache args to canonical names and accepts Kthena\'s topKMatches', () => {
    const r = parseKthenaScheduler(`
pluginConfig:
  - name: prefix-cache
    args: {blockSizeToHash: 16, maxBlocksToMatch: 32, maxHashCacheSize: 1000, topKMatches: 5}
plugins:
  Score:
    enabled: [{name: prefix-cache, weight: 2}]
`, ORIGIN);
    expect('config' in r && r.config.plugins[0]).toEqual({
      name: 'prefix-cache', type: 'prefix-cache-scorer',
      parameters: { hashBlockSize: 16, maxPrefixBlocksToMatch: 32, maxHashCacheSize: 1000, lruCapacityPerServer: 1000 },
    });
    expect('config' in r && r.config.profiles[0]).toEqual({ name: 'default', filters: [], scorers: [{ plugin: 'prefix-cache', weight: 2 }], picker: 'max-score-picker' });
  });

  const scoreOnly = (entries: string) => `plugins:\n  Score:\n    enabled:\n${entries}`;
  it.each([
    ['Score entry without weight', scoreOnly('      - name: kv-cache\n'), 'plugins.Score.enabled[0]', /Score entry kv-cache has no weight; Kthena requires one: add weight: 1/],
    ['weight zero', scoreOnly('      - name: kv-cache\n        weight: 0\n'), 'plugins.Score.enabled[0].weight', /whole number of at least 1 \(got number 0\)/],
    ['fractional weight', scoreOnly('      - name: kv-cache\n        weight: 1.5\n'), 'plugins.Score.enabled[0].weight', /whole number/],
    ['unknown plugin', scoreOnly('      - name: kv-cahce\n        weight: 1\n'), 'plugins.Score.enabled[0].name', /"kv-cahce" is not a known plugin; use one of .*kv-cache.*least-request/],
    ['bare name in Score.enabled', scoreOnly('      - kv-cache\n'), 'plugins.Score.enabled[0]', /must be \{name: <plugin>, weight/],
    ['scorer-only plugin as a Filter', 'plugins:\n  Filter:\n    enabled: [kv-cache]\n', 'plugins.Filter.enabled[0]', /kv-cache cannot filter: kv-cache-utilization-scorer acts as a scorer; move it to plugins.Score.enabled/],
    ['picker as a Score plugin', scoreOnly('      - name: max-score-picker\n        weight: 1\n'), 'plugins.Score.enabled[0].name', /max-score-picker cannot score: .* acts as a picker; remove it/],
    ['duplicate Score plugin via alias', scoreOnly('      - {name: kv-cache, weight: 1}\n      - {name: gpu-usage, weight: 2}\n'), 'plugins.Score.enabled[1].name', /enabled twice/],
    ['random mixed with other scorers', scoreOnly('      - {name: random, weight: 1}\n      - {name: kv-cache, weight: 1}\n'), 'plugins.Score.enabled[0].name', /random cannot be combined/],
    ['enabled and disabled filter', 'plugins:\n  Filter:\n    enabled: [least-request]\n    disabled: [least-request]\n', 'plugins.Filter.disabled[0]', /both enabled and disabled in plugins.Filter/],
    ['enabled and disabled scorer', scoreOnly('      - {name: kv-cache, weight: 1}\n') + '    disabled:\n      - name: gpu-usage\n', 'plugins.Score.disabled[0].name', /both enabled and disabled in plugins.Score/],
    ['unknown disabled plugin', 'plugins:\n  Filter:\n    disabled: [lora-afinity]\n', 'plugins.Filter.disabled[0]', /not a known plugin/],
    ['pluginConfig for a plugin not enabled', 'pluginConfig:\n  - name: least-latency\n    args: {TTFTTPOTWeightFactor: 0.2}\nplugins:\n  Filter:\n    enabled: [least-request]\n', 'pluginConfig[0].name', /least-latency is not enabled .* enable it or remove this pluginConfig entry/],
    ['repeated pluginConfig', 'pluginConfig:\n  - name: least-request\n  - name: least-request\n', 'pluginConfig[1].name', /repeats pluginConfig\[0\]/],
    ['bad parameter type', 'pluginConfig:\n  - name: least-request\n    args:\n      maxWaitingRequests: "ten"\n', 'pluginConfig[0].args.maxWaitingRequests', /least-request parameter maxWaitingRequests must be a whole number \(got string "ten"\)/],
    ['parameter out of range', 'pluginConfig:\n  - name: least-latency\n    args: {TTFTTPOTWeightFactor: 1.5}\n', 'pluginConfig[0].args.TTFTTPOTWeightFactor', /must be at most 1/],
    ['prefix arg below minimum (Kthena name in the path)', 'pluginConfig:\n  - name: prefix-cache\n    args: {blockSizeToHash: 0}\n', 'pluginConfig[0].args.blockSizeToHash', /prefix-cache parameter blockSizeToHash must be at least 1/],
    ['catalog spelling in Kthena args', 'pluginConfig:\n  - name: prefix-cache\n    args: {hashBlockSize: 16}\n', 'pluginConfig[0].args.hashBlockSize', /call it blockSizeToHash/],
    ['unknown arg', 'pluginConfig:\n  - name: least-request\n    args: {maxWaiting: 3}\n', 'pluginConfig[0].args.maxWaiting', /least-request has no arg maxWaiting; .*accepted: maxWaitingRequests/],
    ['args for a plugin without parameters', 'pluginConfig:\n  - name: kv-cache\n    args: {x: 1}\nplugins:\n  Score:\n    enabled: [{name: kv-cache, weight: 1}]\n', 'pluginConfig[0].args.x', /kv-cache takes no args; remove x/],
    ['unknown top-level key', 'plugin:\n  Filter: {}\n', 'plugin', /unknown field plugin in .*accepted: pluginConfig, plugins/],
    ['lower-case section', 'plugins:\n  score: {}\n', 'plugins.score', /accepted: Filter, Score/],
    ['not a mapping', '- a\n- b\n', '', /must be a YAML mapping/],
    ['bad YAML', 'plugins:\n  Filter:\n    enabled: [a\n', '', /not valid YAML at line/],
  ])('%s', (_name, text, path, message) => {
    const issues = issuesOf(parseKthenaScheduler(text, ORIGIN));
    const hit = issues.find((i) => i.path === path);
    expect(hit).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it('lists every problem at once', () => {
    const issues = issuesOf(parseKthenaScheduler(`
pluginConfig:
  - name: least-request
    args: {maxWaitingRequests: "ten"}
plugins:
  Filter:
    enabled: [least-request, kv-cache]
  Score:
    enabled:
      - name: least-request
      - name: nope
        weight: 1
`, ORIGIN));
    expect(issues.map((i) => i.path).sort()).toEqual([
      'pluginConfig[0].args.maxWaitingRequests',
      'plugins.Filter.enabled[1]',
      'plugins.Score.enabled[0]',
      'plugins.Score.enabled[1].name',
    ]);
  });
});

describe('parseKthenaRouterConfiguration', () => {
  it('normalises the seed routerConfiguration example and returns its auth', () => {
    expect(parseKthenaRouterConfiguration(SEED_ROUTER, ORIGIN)).toEqual({
      config: EXPECTED_SEED,
      policy: {
        auth: {
          jwt: {
            issuer: 'testing@secure.istio.io',
            audiences: ['kthena.io'],
            jwksUri: 'https://raw.githubusercontent.com/istio/istio/release-1.27/security/tools/jwt/samples/jwks.json',
            clockSkewSeconds: 30,
            userClaim: 'sub',
            tierClaim: 'tier',
          },
        },
      },
    });
  });

  it('runs the default set with auth only, and has no auth when absent', () => {
    const r = parseKthenaRouterConfiguration('auth:\n  issuer: i\n  audiences: [a]\n  jwksUri: https://idp/jwks.json\n', ORIGIN);
    expect(r).toEqual({ config: EXPECTED_DEFAULT, policy: { auth: { jwt: { issuer: 'i', audiences: ['a'], jwksUri: 'https://idp/jwks.json', clockSkewSeconds: 30, userClaim: 'sub', tierClaim: 'tier' } } } });
    expect(parseKthenaRouterConfiguration('', ORIGIN)).toEqual({ config: EXPECTED_DEFAULT });
  });

  it.each([
    ['missing issuer', 'auth:\n  audiences: [a]\n  jwksUri: https://x/j\n', 'auth.issuer', /non-empty string/],
    ['audiences as a string', 'auth:\n  issuer: i\n  audiences: kthena.io\n  jwksUri: https://x/j\n', 'auth.audiences', /non-empty list .* audiences: \["kthena.io"\]/],
    ['jwksUri not a URL', 'auth:\n  issuer: i\n  audiences: [a]\n  jwksUri: jwks.json\n', 'auth.jwksUri', /http\(s\) URL/],
    ['unknown auth field', 'auth:\n  issuer: i\n  audience: [a]\n  audiences: [a]\n  jwksUri: https://x/j\n', 'auth.audience', /unknown field audience in auth; .*accepted: issuer, audiences, jwksUri, clockSkew/],
    ['scheduler paths are prefixed', 'scheduler:\n  plugins:\n    Score:\n      enabled: [{name: kv-cache}]\n', 'scheduler.plugins.Score.enabled[0]', /no weight/],
    ['unknown top-level key', 'schedular: {}\n', 'schedular', /accepted: scheduler, auth, identity, fairness/],
  ])('%s', (_name, text, path, message) => {
    const issues = issuesOf(parseKthenaRouterConfiguration(text, ORIGIN));
    const hit = issues.find((i) => i.path === path);
    expect(hit).toBeDefined();
    expect(hit!.message).toMatch(message);
  });
});
