import { type Issue } from '../api/validate';
import { parseEndpointPickerConfig } from './endpoint-picker-dialect';
import { type SchedulerConfig } from './scheduler-config';

const HEAD = 'apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n';

/** The seed's "complete configuration" example. */
const SEED_SHORT = `${HEAD}plugins:
- type: prefix-cache-scorer
  parameters:
    hashBlockSize: 5
    maxPrefixBlocksToMatch: 256
    lruCapacityPerServer: 31250
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: prefix-cache-scorer
    weight: 50
`;

/** The seed's "after defaults have been applied" form (its `-pluginRef` typo restored to `- pluginRef`). */
const SEED_LONG = `${HEAD}plugins:
- type: prefix-cache-scorer
  parameters:
    hashBlockSize: 5
    maxPrefixBlocksToMatch: 256
    lruCapacityPerServer: 31250
- type: single-profile-handler
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: prefix-cache-scorer
    weight: 50
  - pluginRef: max-score-picker
`;

const ORIGIN = 'ConfigMap default/epp key endpointPickerConfig';

const EXPECTED_SEED: SchedulerConfig = {
  source: 'endpoint-picker',
  origin: ORIGIN,
  plugins: [
    { name: 'prefix-cache-scorer', type: 'prefix-cache-scorer', parameters: { hashBlockSize: 5, maxPrefixBlocksToMatch: 256, lruCapacityPerServer: 31250 } },
    { name: 'single-profile-handler', type: 'single-profile-handler', parameters: {} },
    { name: 'max-score-picker', type: 'max-score-picker', parameters: { maxNumOfEndpoints: 1 } },
  ],
  profileHandler: 'single-profile-handler',
  profiles: [{ name: 'default', filters: [], scorers: [{ plugin: 'prefix-cache-scorer', weight: 50 }], picker: 'max-score-picker' }],
};

const issuesOf = (r: { issues: Issue[] } | object): Issue[] => ('issues' in r ? r.issues : []);
const configOf = (text: string): SchedulerConfig => {
  const r = parseEndpointPickerConfig(text, ORIGIN);
  if ('issues' in r) throw new Error(JSON.stringify(r.issues));
  return r.config;
};

describe('parseEndpointPickerConfig', () => {
  it.each([['short', SEED_SHORT], ['after defaults', SEED_LONG]])('normalises the seed\'s %s form', (_name, text) => {
    expect(parseEndpointPickerConfig(text, ORIGIN)).toEqual({ config: EXPECTED_SEED });
  });

  it('gives the short form and the "after defaults" form the same normalised configuration', () => {
    expect(configOf(SEED_SHORT)).toEqual(configOf(SEED_LONG));
  });

  it('without profiles, builds default from every plugin, gives scorers weight 1 and places roles', () => {
    const cfg = configOf(`${HEAD}plugins:
- type: least-request
  parameters: {maxWaitingRequests: 4}
- name: kv
  type: kv-cache-scorer
- type: lora-affinity-scorer
- type: random-picker
  parameters: {maxNumOfEndpoints: 2}
`);
    expect(cfg.plugins.map((p) => [p.name, p.type])).toEqual([
      ['least-request', 'least-request'], ['kv', 'kv-cache-utilization-scorer'], ['lora-affinity-scorer', 'lora-affinity-scorer'],
      ['random-picker', 'random-picker'], ['single-profile-handler', 'single-profile-handler'],
    ]);
    // least-request filters and scores; the endpoint picker's lora-affinity-scorer only scores.
    expect(cfg.profiles).toEqual([{
      name: 'default',
      filters: ['least-request'],
      scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'kv', weight: 1 }, { plugin: 'lora-affinity-scorer', weight: 1 }],
      picker: 'random-picker',
    }]);
  });

  it('reuses the one defined picker for a profile that references none, as the endpoint picker does', () => {
    const cfg = configOf(`${HEAD}plugins:
- type: queue-scorer
- type: max-score-picker
  parameters: {maxNumOfEndpoints: 3}
schedulingProfiles:
- name: p
  plugins: [{pluginRef: queue-scorer, weight: 2.5}]
`);
    expect(cfg.profiles[0]).toEqual({ name: 'p', filters: [], scorers: [{ plugin: 'queue-scorer', weight: 2.5 }], picker: 'max-score-picker' });
    expect(cfg.plugins.find((p) => p.name === 'max-score-picker')!.parameters).toEqual({ maxNumOfEndpoints: 3 });
  });

  const profile = (plugins: string, name = 'default') => `schedulingProfiles:\n- name: ${name}\n  plugins:\n${plugins}`;
  it.each([
    ['missing apiVersion and kind', 'plugins: []\n', 'apiVersion', /apiVersion must be inference.networking.x-k8s.io\/v1alpha1 \(got nothing\)/],
    ['wrong kind', 'apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfiguration\n', 'kind', /kind must be EndpointPickerConfig/],
    ['empty text', '', 'kind', /kind must be EndpointPickerConfig/],
    ['unknown type', `${HEAD}plugins:\n- name: q\n  type: queue-scorrer\n`, 'plugins[0].type', /plugin q: type "queue-scorrer" is not a known plugin; use one of .*queue-scorer/],
    ['pd-profile-handler without its decode profile', `${HEAD}plugins:\n- type: pd-profile-handler\n- type: prefill-filter\n- type: queue-scorer\nschedulingProfiles:\n- name: prefill\n  plugins: [{pluginRef: prefill-filter}, {pluginRef: queue-scorer}]\n- name: other\n  plugins: [{pluginRef: queue-scorer}]\n`, 'profiles', /needs a profile named "decode" \(its decodeProfile\); configured: prefill, other/],
    ['missing type', `${HEAD}plugins:\n- name: x\n`, 'plugins[0].type', /needs a type/],
    ['duplicate names', `${HEAD}plugins:\n- type: queue-scorer\n- type: queue-scorer\n`, 'plugins[1].type', /"queue-scorer" is already used by plugins\[0\]; give one of them a distinct name/],
    ['bad parameter type', `${HEAD}plugins:\n- type: least-request\n  parameters:\n    maxWaitingRequests: "ten"\n`, 'plugins[0].parameters.maxWaitingRequests', /plugin least-request \(least-request\) parameter maxWaitingRequests must be a whole number \(got string "ten"\)/],
    ['unknown parameter', `${HEAD}plugins:\n- type: prefix-cache-scorer\n  parameters: {blockSizeToHash: 5}\n`, 'plugins[0].parameters.blockSizeToHash', /has no parameter blockSizeToHash; .*accepted: hashBlockSize/],
    ['parameters on a plugin without any', `${HEAD}plugins:\n- type: queue-scorer\n  parameters: {x: 1}\n`, 'plugins[0].parameters.x', /takes no parameters; remove x/],
    ['undefined pluginRef', `${HEAD}plugins:\n- type: queue-scorer\n${profile('  - pluginRef: queue-scorer\n  - pluginRef: kv\n')}`, 'schedulingProfiles[0].plugins[1].pluginRef', /references undefined plugin "kv"; define it in plugins \(defined: queue-scorer\)/],
    ['two pickers in a profile', `${HEAD}plugins:\n- type: max-score-picker\n- type: random-picker\n${profile('  - pluginRef: max-score-picker\n  - pluginRef: random-picker\n')}`, 'schedulingProfiles[0].plugins[1].pluginRef', /more than one picker \(max-score-picker, random-picker\); keep one/],
    ['two pickers, none referenced', `${HEAD}plugins:\n- type: queue-scorer\n- type: max-score-picker\n- type: random-picker\n${profile('  - pluginRef: queue-scorer\n')}`, 'schedulingProfiles[0]', /references no picker and several are defined/],
    ['two pickers, no profiles', `${HEAD}plugins:\n- type: max-score-picker\n- type: random-picker\n`, 'plugins[1].name', /more than one picker/],
    ['two profiles without a handler', `${HEAD}plugins:\n- type: queue-scorer\n${profile('  - pluginRef: queue-scorer\n', 'a')}- name: b\n  plugins: [{pluginRef: queue-scorer}]\n`, 'schedulingProfiles', /2 scheduling profiles need a profile handler/],
    ['two profiles with single-profile-handler', `${HEAD}plugins:\n- type: queue-scorer\n- type: single-profile-handler\n${profile('  - pluginRef: queue-scorer\n', 'a')}- name: b\n  plugins: [{pluginRef: queue-scorer}]\n`, 'schedulingProfiles', /runs one profile but 2 are defined/],
    ['duplicate profile', `${HEAD}plugins:\n- type: queue-scorer\n${profile('  - pluginRef: queue-scorer\n', 'a')}- name: a\n  plugins: []\n`, 'schedulingProfiles[1].name', /duplicate profile name "a"/],
    ['handler referenced from a profile', `${HEAD}plugins:\n- type: single-profile-handler\n${profile('  - pluginRef: single-profile-handler\n')}`, 'schedulingProfiles[0].plugins[0].pluginRef', /is a profile handler; .* remove this reference/],
    ['weight on a picker', `${HEAD}plugins:\n- type: max-score-picker\n${profile('  - pluginRef: max-score-picker\n    weight: 3\n')}`, 'schedulingProfiles[0].plugins[0].weight', /weight only applies to scorers/],
    ['weight zero', `${HEAD}plugins:\n- type: queue-scorer\n${profile('  - pluginRef: queue-scorer\n    weight: 0\n')}`, 'schedulingProfiles[0].plugins[0].weight', /must be a number above 0 \(got number 0\)/],
    ['unreferenced plugin', `${HEAD}plugins:\n- type: queue-scorer\n- type: kv-cache-utilization-scorer\n${profile('  - pluginRef: queue-scorer\n')}`, 'plugins[1].name', /kv-cache-utilization-scorer is defined but no scheduling profile references it/],
    ['unsupported section', `${HEAD}featureGates: [dataLayer]\n`, 'featureGates', /does not implement the endpoint picker's featureGates section/],
    ['unknown field', `${HEAD}schedulingProfile: []\n`, 'schedulingProfile', /unknown field/],
    ['bad YAML', `${HEAD}plugins:\n- type: a\n  parameters: {x: 1\n`, '', /not valid YAML/],
  ])('%s', (_name, text, path, message) => {
    const issues = issuesOf(parseEndpointPickerConfig(text, ORIGIN));
    const hit = issues.find((i) => i.path === path);
    if (!hit) throw new Error(`no issue at ${path}: ${JSON.stringify(issues)}`);
    expect(hit.message).toMatch(message);
  });
});

describe('parseEndpointPickerConfig: prefill/decode disaggregation', () => {
  it('accepts the endpoint picker\'s PD configuration: pd-profile-handler with prefill and decode profiles', () => {
    const text = `${HEAD}plugins:
- type: pd-profile-handler
- type: prefill-filter
- type: decode-filter
- type: prefix-cache-scorer
- type: queue-scorer
- type: max-score-picker
schedulingProfiles:
- name: prefill
  plugins:
  - pluginRef: prefill-filter
  - pluginRef: prefix-cache-scorer
    weight: 2
  - pluginRef: max-score-picker
- name: decode
  plugins:
  - pluginRef: decode-filter
  - pluginRef: queue-scorer
  - pluginRef: max-score-picker
`;
    const r = parseEndpointPickerConfig(text, 'test');
    expect('issues' in r ? r.issues : []).toEqual([]);
    const config = (r as { config: { profileHandler: string; profiles: { name: string; filters: string[]; scorers: { plugin: string }[] }[] } }).config;
    expect(config.profileHandler).toBe('pd-profile-handler');
    expect(config.profiles.map((p) => [p.name, p.filters, p.scorers.map((s) => s.plugin)])).toEqual([
      ['prefill', ['prefill-filter'], ['prefix-cache-scorer']],
      ['decode', ['decode-filter'], ['queue-scorer']],
    ]);
  });
});
