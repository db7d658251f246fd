import type { RoutingSnapshot, SnapshotRoute, SnapshotRule, SnapshotServer } from '../shared/snapshot/schema';
import { MAX_NAME_LINES, tryItLines, type Credential } from './quickstart-lines';
import type { SimPodFromFolder } from './sim-pods';

const URL = 'http://127.0.0.1:8080';

const server = (name: string, ips: string[], extra: Partial<SnapshotServer> = {}): SnapshotServer => ({
  key: `default/${name}`, model: `${name}-model`, engine: 'vLLM', protocol: 'http', retry: { attempts: 1, intervalMs: 100 }, pd: false, scheduler: 'default',
  endpoints: ips.map((address, i) => ({ pod: `default/${name}-${i}`, address, port: 8000 })), ...extra,
});
const rule = (targets: [string, number][], match: Partial<SnapshotRule> = {}, name = 'r'): SnapshotRule => ({
  name, headers: [], targets: targets.map(([s, weight]) => ({ server: `default/${s}`, weight, resolved: true })), ...match,
});
const route = (modelName: string | undefined, rules: SnapshotRule[], extra: Partial<SnapshotRoute> = {}): SnapshotRoute => ({
  key: `default/${modelName ?? 'lora'}`, ...(modelName ? { modelName } : {}), loraAdapters: [], rules, ...extra,
});
const pod = (name: string, ip: string, model: string, loras: string[] = []): SimPodFromFolder => ({ name, namespace: 'default', ip, port: 8000, model, engine: 'vllm', loras });

/** Servers a (1 pod) and b (1 pod), both played; c has a pod the simulator does not play. */
const SERVERS = [server('a', ['127.0.0.11']), server('b', ['127.0.0.21']), server('c', ['127.0.0.31'])];
const PODS = [pod('a-0', '127.0.0.11', 'a-model', ['lora-x']), pod('b-0', '127.0.0.21', 'b-model')];

function lines(routes: SnapshotRoute[], opts: { servers?: SnapshotServer[]; pods?: SimPodFromFolder[]; credential?: Credential; snapshot?: Partial<RoutingSnapshot> } = {}) {
  const snapshot = { routes, servers: opts.servers ?? SERVERS, schedulers: {}, ...opts.snapshot } as unknown as RoutingSnapshot;
  return tryItLines({ snapshot, pods: opts.pods ?? PODS, url: URL, adminUrl: 'http://127.0.0.1:8081', tokenFile: '/w/push-token', credential: opts.credential ?? { kind: 'none' } });
}

const completion = (model: string, extra = '') => `curl -s ${URL}/v1/completions -H 'Content-Type: application/json'${extra} -d '{"model": "${model}", "prompt": "San Francisco is a", "temperature": 0}'`;
const stream = (model: string, extra = '') => `curl -sN ${URL}/v1/chat/completions -H 'Content-Type: application/json'${extra} -d '{"model": "${model}", "messages": [{"role": "user", "content": "Hi"}], "stream": true}'`;
const MODELS = `curl -s ${URL}/v1/models`;

describe('tryItLines', () => {
  it('prints a completion, a streamed chat and the model list for a plain model', () => {
    expect(lines([route('m', [rule([['a', 100]])])])).toEqual({ lines: [completion('m'), stream('m'), MODELS], notes: [] });
  });

  it.each([
    ['exact', { exact: 'premium' }, " -H 'user-type: premium'"],
    ['prefix', { prefix: 'gold-' }, " -H 'user-type: gold-'"],
    ['regex', { regex: '^(gold|silver)-[0-9]+$' }, " -H 'user-type: gold-0'"],
    ['empty exact (curl sends an empty value with ;)', { exact: '' }, " -H 'user-type;'"],
    ['quote in the value', { exact: "o'k" }, ` -H 'user-type: o'\\''k'`],
  ])('sends a header value the %s match accepts', (_what, match, header) => {
    const got = lines([route('m', [rule([['b', 100]], { headers: [{ name: 'user-type', match }] })])]);
    expect(got.lines[0]).toBe(completion('m', header));
  });

  it.each([
    ['a regex it cannot build', { regex: '^(?=x)abc$' }, 'no value could be built for header user-type, which must match the regex ^(?=x)abc$'],
    ['a value curl cannot send', { exact: ' padded ' }, 'header user-type must be " padded ", which curl cannot send as it is'],
  ])('falls through to the next rule for %s, and notes it when none is left', (_what, match, why) => {
    const headerRule = rule([['b', 100]], { headers: [{ name: 'user-type', match }] });
    expect(lines([route('m', [headerRule, rule([['a', 100]])])]).lines[0]).toBe(completion('m'));
    expect(lines([route('m', [headerRule])]).notes).toEqual([`not printed, m: ${why}`]);
  });

  it('uses the path a URI match accepts, and notes a rule that accepts neither', () => {
    const chat = lines([route('m', [rule([['a', 100]], { uri: { prefix: '/v1/chat' } })])]);
    expect(chat.lines[0]).toBe(`curl -s ${URL}/v1/chat/completions -H 'Content-Type: application/json' -d '{"model": "m", "messages": [{"role": "user", "content": "Hi"}]}'`);
    const none = lines([route('m', [rule([['a', 100]], { uri: { exact: '/v1/embeddings' } })])]);
    expect(none.notes).toEqual(['not printed, m: rule r matches no URI of /v1/completions or /v1/chat/completions']);
    expect(none.lines).toEqual([MODELS]);
  });

  it('notes a rule that matches one header twice with values no request can both have', () => {
    const twice = rule([['a', 100]], { headers: [{ name: 'x', match: { exact: 'a' } }, { name: 'x', match: { exact: 'b' } }] });
    expect(lines([route('m', [twice])]).notes).toEqual(['not printed, m: rule r matches one header twice, with values no request can both have']);
  });

  it('skips a rule whose body model is another name', () => {
    expect(lines([route('m', [rule([['c', 100]], { bodyModel: 'other' }), rule([['a', 100]])])]).lines[0]).toBe(completion('m'));
  });

  it('prints a split between targets as a loop of ten, unless the route is rate-limited', () => {
    const split = rule([['a', 70], ['b', 30]]);
    expect(lines([route('m', [split])]).lines[0]).toBe(`for i in $(seq 1 10); do ${completion('m')} | grep -o '"model":"[^"]*"'; done | sort | uniq -c`);
    expect(lines([route('m', [split], { rateLimit: { unit: 'minute', per: 'user', tiers: {}, inputTokensPerUnit: 10 } })]).lines[0]).toBe(completion('m'));
    // A weight of 0 is never picked: neither a split nor a target that must work.
    expect(lines([route('m', [rule([['a', 100], ['c', 0]])])]).lines[0]).toBe(completion('m'));
  });

  it.each([
    ['a pod the simulator does not play', [route('m', [rule([['c', 100]])])], {}, "default/c's pod default/c-0 (127.0.0.31:8000) is not played by the simulator"],
    ['a server without a model (the engine is asked for the route name)', [route('m', [rule([['a', 100]])])], { servers: [server('a', ['127.0.0.11'], { model: undefined })] }, "default/a's pod default/a-0 serves a-model, lora-x, not m"],
    ['an adapter the pod does not have', [route(undefined, [rule([['b', 100]])], { loraAdapters: ['lora-x'] })], {}, "default/b's pod default/b-0 serves b-model, not lora-x"],
    ['a target missing from the snapshot', [route('m', [rule([['gone', 100]])])], {}, 'rule r targets default/gone, which the folder does not define'],
    ['a server without ready pods', [route('m', [rule([['e', 100]])])], { servers: [...SERVERS, server('e', [])] }, 'default/e has no Running and Ready pod'],
    ['a PD server without a prefill pod', [route('m', [rule([['a', 100]])])], { servers: [server('a', ['127.0.0.11'], { pd: true })] }, 'default/a disaggregates prefill and decode but has no ready pod of one of them'],
    ['weights that are all 0', [route('m', [rule([['a', 0]])])], {}, 'rule r gives every target weight 0'],
  ])('leaves out a name routed to %s, saying why', (_what, routes, opts, why) => {
    const got = lines(routes, opts);
    expect(got.lines).toEqual([MODELS]);
    expect(got.notes).toEqual([`not printed, ${routes[0]!.modelName ?? 'lora-x'}: ${why}`]);
  });

  it('judges the rule the data plane picks: an earlier rule that also accepts the request wins', () => {
    const prefix = rule([['c', 100]], { headers: [{ name: 'x', match: { prefix: 'a' } }] }, 'first');
    const exact = rule([['a', 100]], { headers: [{ name: 'x', match: { exact: 'abc' } }] }, 'second');
    expect(lines([route('m', [prefix, exact])]).notes).toEqual(["not printed, m: default/c's pod default/c-0 (127.0.0.31:8000) is not played by the simulator"]);
  });

  it('prints adapters after model names, and an adapter the server loads on demand', () => {
    const got = lines([
      route(undefined, [rule([['a', 100]])], { loraAdapters: ['lora-x'] }),
      route(undefined, [rule([['b', 100]])], { key: 'default/load', loraAdapters: ['lora-y'] }),
      route('m', [rule([['a', 100]])]),
    ], { servers: [SERVERS[0]!, server('b', ['127.0.0.21'], { loraLoad: { pathTemplate: '/adapters/{name}' } })] });
    expect(got.lines).toEqual([completion('m'), completion('lora-x'), completion('lora-y'), stream('m'), MODELS]);
  });

  it(`prints at most ${MAX_NAME_LINES} names and counts the rest`, () => {
    const names = Array.from({ length: MAX_NAME_LINES + 2 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    const got = lines(names.map((n) => route(n, [rule([['a', 100]])], { key: `default/${n}` })));
    expect(got.lines).toEqual([...names.slice(0, MAX_NAME_LINES).map((n) => completion(n)), stream('m00'), MODELS]);
    expect(got.notes).toEqual(['2 more served name(s) not shown; the /v1/models line lists them all']);
  });

  it('streams a name that needs no header and has one target', () => {
    const got = lines([
      route('a-first', [rule([['a', 100]], { headers: [{ name: 'x', match: { exact: 'y' } }] })], { key: 'default/1' }),
      route('b-split', [rule([['a', 50], ['b', 50]])], { key: 'default/2' }),
      route('c-plain', [rule([['b', 100]])], { key: 'default/3' }),
    ]);
    expect(got.lines[3]).toBe(stream('c-plain'));
  });

  it.each<[string, Credential, Partial<RoutingSnapshot>, string[], string[]]>([
    ['a key file', { kind: 'file', file: '/w/api-key' }, {},
      [completion('m', ` -H "Authorization: Bearer $(cat '/w/api-key')"`), stream('m', ` -H "Authorization: Bearer $(cat '/w/api-key')"`), `${MODELS} -H "Authorization: Bearer $(cat '/w/api-key')"`], []],
    ['a variable to export', { kind: 'env', variable: 'SLUICE_API_KEY', note: 'export it' }, {},
      [completion('m', ' -H "Authorization: Bearer $SLUICE_API_KEY"'), stream('m', ' -H "Authorization: Bearer $SLUICE_API_KEY"'), `${MODELS} -H "Authorization: Bearer $SLUICE_API_KEY"`], ['export it']],
    ['no credential (JWT)', { kind: 'unavailable', note: 'JWT' }, { auth: { jwt: {} as never } }, [], ['JWT']],
    ['no credential, public model list', { kind: 'unavailable', note: 'JWT' }, { auth: { jwt: {} as never, publicModelList: true } }, [MODELS], ['JWT']],
  ])('authenticates with %s', (_what, credential, snapshot, want, notes) => {
    expect(lines([route('m', [rule([['a', 100]])])], { credential, snapshot })).toEqual({ lines: want, notes });
  });

  it('adds the KV-events dump when a server follows KV events, and notes a folder with no route', () => {
    const got = lines([], { servers: [server('a', ['127.0.0.11'], { kvEvents: { port: 5557, topic: '' } })] });
    expect(got.lines).toEqual([MODELS, `curl -s http://127.0.0.1:8081/debug/config_dump/kvevents -H "Authorization: Bearer $(cat '/w/push-token')"`]);
    expect(got.notes).toEqual(['the folder has no ModelRoute, so no model is served']);
  });

  it('quotes a model name for the shell', () => {
    expect(lines([route("it's", [rule([['a', 100]])])]).lines[0]).toBe(`curl -s ${URL}/v1/completions -H 'Content-Type: application/json' -d '{"model": "it'\\''s", "prompt": "San Francisco is a", "temperature": 0}'`);
  });
});
