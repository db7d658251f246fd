import { defaultSchedulerConfig, schedulerConfigFromConfigMap } from './scheduler-config-source';
import { type SchedulerConfig } from './scheduler-config';
import { validateSchedulerConfig } from './validate-scheduler-config';

const cm = (data?: Record<string, string>) => ({ metadata: { name: 'kthena-router-config', namespace: 'default' }, data });
const EPP = 'apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: queue-scorer\n';

describe('defaultSchedulerConfig', () => {
  it('is self-consistent and uses the least-request filter, three scorers and a failover-depth picker', () => {
    const cfg = defaultSchedulerConfig();
    expect(validateSchedulerConfig(cfg)).toEqual([]);
    expect(cfg.profiles[0]!.filters).toEqual(['least-request']);
    expect(cfg.profiles[0]!.scorers.map((s) => s.plugin)).toEqual(['least-request', 'kv-cache-utilization-scorer', 'prefix-cache-scorer']);
    expect(cfg.plugins.find((p) => p.name === 'max-score-picker')!.parameters).toEqual({ maxNumOfEndpoints: 5 });
  });
});

describe('schedulerConfigFromConfigMap', () => {
  it('reads schedulerConfiguration with the ConfigMap and key as origin', () => {
    const r = schedulerConfigFromConfigMap(cm({ schedulerConfiguration: '' }));
    expect('config' in r && r.config.origin).toBe('ConfigMap default/kthena-router-config key schedulerConfiguration');
    expect('config' in r && r.config.source).toBe('kthena');
  });

  it('returns the router policy from routerConfiguration', () => {
    const r = schedulerConfigFromConfigMap(cm({ routerConfiguration: 'auth:\n  issuer: i\n  audiences: [a]\n  jwksUri: https://idp/jwks\n', other: 'x' }));
    expect('policy' in r && r.policy?.auth?.jwt).toMatchObject({ issuer: 'i', audiences: ['a'], jwksUri: 'https://idp/jwks' });
  });

  // Hardening defect 8: ConfigMap text goes through the bounded YAML loader too.
  it.each(['schedulerConfiguration', 'routerConfiguration', 'endpointPickerConfig'])('refuses an alias bomb in %s at that key', (key) => {
    const lines = ['a0: &a0 [x,x,x,x,x,x,x,x,x]'];
    for (let i = 1; i <= 9; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(',')}]`);
    const r = schedulerConfigFromConfigMap(cm({ [key]: lines.join('\n') }));
    expect('issues' in r && r.issues[0]).toMatchObject({ path: expect.stringContaining(`data.${key}`), message: expect.stringMatching(/more than \d+ (values|times)/) });
  });

  it('reads endpointPickerConfig', () => {
    const r = schedulerConfigFromConfigMap({ metadata: { name: 'epp' }, data: { endpointPickerConfig: EPP } });
    expect('config' in r && [r.config.source, r.config.origin]).toEqual(['endpoint-picker', 'ConfigMap epp key endpointPickerConfig']);
  });

  it.each([
    ['issues carry the key and the inner path', { schedulerConfiguration: 'plugins:\n  Score:\n    enabled: [{name: kv-cache}]\n' }, 'data.schedulerConfiguration: plugins.Score.enabled[0]', /no weight/],
    ['whole-document issues name the key', { endpointPickerConfig: 'kind: EndpointPickerConfig\napiVersion: v1\n' }, 'data.endpointPickerConfig: apiVersion', /apiVersion must be/],
    ['YAML errors name the key', { routerConfiguration: 'scheduler: [\n' }, 'data.routerConfiguration', /not valid YAML/],
    ['two Kthena keys', { schedulerConfiguration: '', routerConfiguration: '' }, 'data', /only one scheduler configuration key may be set: keep routerConfiguration if you use its auth/],
    ['Kthena and endpoint picker keys', { schedulerConfiguration: '', endpointPickerConfig: EPP }, 'data', /schedulerConfiguration and endpointPickerConfig.*keep the one you maintain/],
    ['no scheduler key', { schedulerConfig: '' }, 'data', /has no scheduler configuration; add one of the keys schedulerConfiguration, routerConfiguration, endpointPickerConfig \(found schedulerConfig\)/],
  ])('%s', (_name, data, path, message) => {
    const r = schedulerConfigFromConfigMap(cm(data));
    const issues = 'issues' in r ? r.issues : [];
    const hit = issues.find((i) => i.path === path);
    if (!hit) throw new Error(`no issue at ${path}: ${JSON.stringify(issues)}`);
    expect(hit.message).toMatch(message);
  });
});

describe('validateSchedulerConfig', () => {
  const base = (): SchedulerConfig => defaultSchedulerConfig();
  it.each<[string, (c: SchedulerConfig) => void, string, RegExp]>([
    ['unknown type', (c) => { c.plugins[1]!.type = 'nope'; }, 'plugins[1].type', /unknown plugin type "nope"/],
    ['alias instead of canonical type', (c) => { c.plugins[1]!.type = 'kv-cache'; }, 'plugins[1].type', /an alias; .*canonical type kv-cache-utilization-scorer/],
    ['duplicate plugin name', (c) => { c.plugins[1]!.name = 'least-request'; }, 'plugins[1].name', /duplicate plugin name/],
    ['bad parameter', (c) => { c.plugins[0]!.parameters = { maxWaitingRequests: 'ten' }; }, 'plugins[0].parameters.maxWaitingRequests', /whole number/],
    ['missing scorer plugin', (c) => { c.profiles[0]!.scorers[1]!.plugin = 'gone'; }, 'profiles[0].scorers[1].plugin', /"gone" is not a defined plugin/],
    ['scorer used as filter', (c) => { c.profiles[0]!.filters.push('kv-cache-utilization-scorer'); }, 'profiles[0].filters[1]', /can act as a scorer, not as a filter/],
    ['picker of the wrong role', (c) => { c.profiles[0]!.picker = 'least-request'; }, 'profiles[0].picker', /not as a picker/],
    ['handler of the wrong role', (c) => { c.profileHandler = 'max-score-picker'; }, 'profileHandler', /not as a profile-handler/],
    ['weight zero', (c) => { c.profiles[0]!.scorers[0]!.weight = 0; }, 'profiles[0].scorers[0].weight', /greater than 0/],
    ['two profiles with the single handler', (c) => { c.profiles.push({ ...c.profiles[0]!, name: 'b' }); }, 'profiles', /runs one profile but 2/],
    ['duplicate scorer', (c) => { c.profiles[0]!.scorers.push({ plugin: 'least-request', weight: 1 }); }, 'profiles[0].scorers[3].plugin', /listed twice/],
  ])('%s', (_name, mutate, path, message) => {
    const c = base();
    mutate(c);
    const hit = validateSchedulerConfig(c).find((i) => i.path === path);
    if (!hit) throw new Error(`no issue at ${path}: ${JSON.stringify(validateSchedulerConfig(c))}`);
    expect(hit.message).toMatch(message);
  });
});
