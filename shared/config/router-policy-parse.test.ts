import { load } from 'js-yaml';
import type { Issue } from '../api/validate';
import { parseRouterPolicy } from './router-policy-parse';

const parse = (text: string) => {
  const issues: Issue[] = [];
  const policy = parseRouterPolicy(load(text) as Record<string, unknown>, issues);
  return { policy, issues };
};

describe('parseRouterPolicy', () => {
  it('reads JWT, API keys, identity and fairness with defaults applied', () => {
    const { policy, issues } = parse(`
auth:
  issuer: "testing@secure.istio.io"
  audiences: ["kthena.io"]
  jwksUri: "https://idp.example/jwks.json"
  clockSkew: 10s
  tierClaim: plan
  apiKeys:
    file: /etc/sluice/api-keys/keys.yaml
identity:
  userHeader: X-User-Id
fairness:
  window: 2m
  outputTokenWeight: 4
  priorityHeader: x-sluice-priority
  tierPriorities: {premium: 10, free: -5}
`);
    expect(issues).toEqual([]);
    expect(policy).toEqual({
      auth: {
        jwt: { issuer: 'testing@secure.istio.io', audiences: ['kthena.io'], jwksUri: 'https://idp.example/jwks.json', clockSkewSeconds: 10, userClaim: 'sub', tierClaim: 'plan' },
        apiKeys: { file: '/etc/sluice/api-keys/keys.yaml' },
      },
      identity: { userHeader: 'x-user-id' },
      fairness: { windowMs: 120_000, inputTokenWeight: 1, outputTokenWeight: 4, priorityHeader: 'x-sluice-priority', tierPriorities: { premium: 10, free: -5 } },
    });
  });

  it('API keys alone enable API keys only', () => {
    expect(parse('auth:\n  apiKeys: {file: /keys/k.yaml}\n')).toEqual({ policy: { auth: { apiKeys: { file: '/keys/k.yaml' } } }, issues: [] });
  });

  it.each([
    // GET /v1/models needs a credential unless publicModelList is true; false is the default and not written.
    ['true', { apiKeys: { file: '/k' }, publicModelList: true }],
    ['false', { apiKeys: { file: '/k' } }],
  ])('publicModelList: %s', (value, auth) => {
    expect(parse(`auth:\n  apiKeys: {file: /k}\n  publicModelList: ${value}\n`)).toEqual({ policy: { auth }, issues: [] });
  });

  it.each([
    ['half a JWT setup', 'auth:\n  issuer: i\n', 'auth.audiences', /non-empty list/],
    ['JWT tuning without JWT', 'auth:\n  apiKeys: {file: /k}\n  clockSkew: 5s\n', 'auth.clockSkew', /needs issuer, audiences and jwksUri/],
    ['too much skew', 'auth:\n  issuer: i\n  audiences: [a]\n  jwksUri: https://x/j\n  clockSkew: 1h\n', 'auth.clockSkew', /at most 5m/],
    ['relative key file', 'auth:\n  apiKeys: {file: keys.yaml}\n', 'auth.apiKeys', /absolute/],
    ['empty auth', 'auth: {}\n', 'auth', /configures nothing/],
    ['publicModelList alone', 'auth:\n  publicModelList: true\n', 'auth', /configures nothing/],
    ['publicModelList not a boolean', 'auth:\n  apiKeys: {file: /k}\n  publicModelList: "yes"\n', 'auth.publicModelList', /must be true .* or false/],
    ['bad header', 'identity:\n  userHeader: "x user"\n', 'identity.userHeader', /header name/],
    ['short window', 'fairness:\n  window: 100ms\n', 'fairness.window', /at least 1s/],
    ['negative weight', 'fairness:\n  inputTokenWeight: -1\n', 'fairness.inputTokenWeight', /at least 0/],
    ['fractional band', 'fairness:\n  tierPriorities: {gold: 1.5}\n', 'fairness.tierPriorities.gold', /whole number from -100 to 100/],
    ['unknown fairness key', 'fairness:\n  windw: 1m\n', 'fairness.windw', /unknown field windw/],
  ])('%s is reported at its path', (_name, text, path, message) => {
    const { policy, issues } = parse(text);
    const hit = issues.find((i) => i.path === path);
    expect(hit?.message).toMatch(message);
    if (path.startsWith('auth')) expect(policy.auth).toBeUndefined();
  });
});
