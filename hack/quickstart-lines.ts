/**
 * The "Try it" curl lines of `npm start`, derived from what the watched folder serves: the
 * snapshot the data plane applied and the pods the engine simulator plays. Every line printed
 * works for the folder being run; what cannot be made to work is named in a note instead.
 *
 * Per served name (model names first, then LoRA adapters, each sorted as /v1/models lists them; at
 * most MAX_NAME_LINES), the first rule of its routes, in the data plane's order, that a request can
 * be built for: the path the
 * rule's URI match accepts (/v1/completions, else /v1/chat/completions), a value for every header
 * match (exact, prefix, or an example of the regex), checked with the data plane's own
 * `ruleAccepts`. The rule the data plane would then pick must send to servers whose every
 * endpoint the simulator plays with the model the request reaches it with; a rule splitting
 * between targets is printed as a loop of ten that counts the models that answered. Then one
 * streamed chat request, the model list, and the KV-events dump when a server follows KV events.
 */
import { ruleAccepts, type MatchInput } from '../dataplane/routing/routing-table';
import { compileMatch, type Matcher } from '../dataplane/routing/string-match';
import type { RoutingSnapshot, SnapshotRoute, SnapshotRule, SnapshotServer } from '../shared/snapshot/schema';
import { regexExample } from './regex-example';
import type { SimPodFromFolder } from './sim-pods';

/** Request lines printed for served names at most; the rest are counted in a note. */
export const MAX_NAME_LINES = 8;
/** Notes about names (or Pods) left out printed at most; the rest are counted. */
export const MAX_NOTES = 8;

const COMPLETIONS = '/v1/completions';
const CHAT = '/v1/chat/completions';

/** How the printed requests authenticate. */
export type Credential =
  | { kind: 'none' }
  /** An API key in a file of the work dir: the line reads it, so the key never lands in the scroll-back. */
  | { kind: 'file'; file: string }
  /** An API key the user exports first as `variable`; `note` says so. */
  | { kind: 'env'; variable: string; note: string }
  /** Auth the quickstart cannot satisfy (JWT): no request lines; `note` says why. */
  | { kind: 'unavailable'; note: string };

/** What the lines are derived from. */
export interface TryItInput {
  snapshot: RoutingSnapshot;
  /** The pods the engine simulator plays. */
  pods: readonly SimPodFromFolder[];
  /** The data plane's traffic and admin base URLs. */
  url: string;
  adminUrl: string;
  /** File holding the push token, which the debug dumps need. */
  tokenFile: string;
  credential: Credential;
}

/** Lines to print under "Try it", and notes: what the lines need, what was left out and why. */
export interface TryIt {
  lines: string[];
  notes: string[];
}

/** A request the quickstart would print. */
interface Probe {
  name: string;
  path: string;
  headers: [string, string][];
  /** The rule the data plane picks for it, and that rule's route. */
  rule: SnapshotRule;
  route: SnapshotRoute;
}

interface CompiledRule {
  bodyModel: string | undefined;
  uri: Matcher | null;
  headers: { name: string; match: Matcher }[];
}

/** Visible ASCII and inner spaces: what survives as a header value (ends are trimmed in transit). */
const HEADER_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;

/** A header value the match accepts, or why none is printed. */
function headerValueFor(name: string, m: SnapshotRule['headers'][number]['match']): string | { why: string } {
  const value = m.exact ?? m.prefix ?? (m.regex !== undefined ? regexExample(m.regex) : '');
  if (value === null) return { why: `no value could be built for header ${name}, which must match the regex ${m.regex}` };
  if (!HEADER_VALUE.test(value)) return { why: `header ${name} must be ${JSON.stringify(value)}, which curl cannot send as it is` };
  return value;
}

/** `s` single-quoted for the shell. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Derives the lines; pure, so the printed set is testable without processes. */
export function tryItLines(input: TryItInput): TryIt {
  const { snapshot, credential } = input;
  const servers = new Map(snapshot.servers.map((s) => [s.key, s]));
  const played = new Map(input.pods.map((p) => [`${p.ip}:${p.port}`, p]));
  const compiled = new Map<SnapshotRule, CompiledRule>();
  const compile = (r: SnapshotRule) => compiled.get(r) ?? compiled.set(r, {
    bodyModel: r.bodyModel,
    uri: r.uri ? compileMatch(r.uri) : null,
    headers: r.headers.map((h) => ({ name: h.name, match: compileMatch(h.match) })),
  }).get(r)!;

  /** The data plane's candidates for a name: routes naming it as a model, else as an adapter. */
  const routesFor = (name: string) => {
    const byModel = snapshot.routes.filter((r) => r.modelName === name);
    return byModel.length > 0 ? { routes: byModel, lora: false } : { routes: snapshot.routes.filter((r) => r.loraAdapters.includes(name)), lora: true };
  };

  /** Why the rule's traffic for `name` would fail on the simulated pods; null when it would not. */
  const unplayable = (rule: SnapshotRule, name: string, lora: boolean): string | null => {
    const targets = rule.targets.filter((t) => t.weight > 0);
    if (targets.length === 0) return `rule ${rule.name} gives every target weight 0`;
    for (const t of targets) {
      if (t.external) {
        const provider = snapshot.providers?.find((p) => p.key === t.server);
        return provider ? `rule ${rule.name} sends to ExternalModelProvider ${t.server} (${provider.baseURL}), which the simulator does not play` : `rule ${rule.name} targets ExternalModelProvider ${t.server}, which the folder does not define`;
      }
      const server: SnapshotServer | undefined = servers.get(t.server);
      if (!server) return `rule ${rule.name} targets ${t.server}, which the folder does not define`;
      if (server.endpoints.length === 0) return `${t.server} has no Running and Ready pod`;
      if (server.pd && !(server.endpoints.some((e) => e.role === 'prefill') && server.endpoints.some((e) => e.role !== 'prefill'))) {
        return `${t.server} disaggregates prefill and decode but has no ready pod of one of them`;
      }
      // What the engine is asked for: the server's model for a base name (the data plane rewrites it), else the name.
      const model = lora ? name : server.model ?? name;
      for (const e of server.endpoints) {
        const pod = played.get(`${e.address}:${e.port}`);
        if (!pod) return `${t.server}'s pod ${e.pod} (${e.address}:${e.port}) is not played by the simulator`;
        if (pod.model !== model && !pod.loras.includes(model) && !(lora && server.loraLoad)) {
          return `${t.server}'s pod ${e.pod} serves ${[pod.model, ...pod.loras].join(', ')}, not ${model}`;
        }
      }
    }
    return null;
  };

  /** The first request for `name` on one of `paths` that the data plane would serve from played pods. */
  const probe = (name: string, paths: readonly string[]): Probe | { why: string } => {
    const { routes, lora } = routesFor(name);
    const reasons: string[] = [];
    for (const route of routes) {
      for (const rule of route.rules) {
        if (rule.bodyModel !== undefined && rule.bodyModel !== name) continue; // never matches this name
        const c = compile(rule);
        const path = paths.find((p) => !c.uri || c.uri(p));
        if (path === undefined) {
          reasons.push(`rule ${rule.name} matches no URI of ${paths.join(' or ')}`);
          continue;
        }
        const headers: [string, string][] = [];
        for (const h of rule.headers) {
          const v = headerValueFor(h.name, h.match);
          if (typeof v !== 'string') {
            reasons.push(v.why);
            break;
          }
          headers.push([h.name, v]);
        }
        if (headers.length < rule.headers.length) continue;
        const req: MatchInput = { model: name, path, headers: Object.fromEntries(headers) };
        // An earlier rule may accept the same request; it is the one whose targets must work.
        const picked = routes.flatMap((r) => r.rules.map((ru) => ({ route: r, rule: ru }))).find((x) => ruleAccepts(compile(x.rule), req));
        if (!picked) {
          reasons.push(`rule ${rule.name} matches one header twice, with values no request can both have`);
          continue;
        }
        const why = unplayable(picked.rule, name, lora);
        if (why === null) return { name, path, headers, ...picked };
        reasons.push(why);
      }
    }
    return { why: [...new Set(reasons)].join('; ') || 'no rule of its routes can match it' };
  };

  const auth = credential.kind === 'file' ? ` -H "Authorization: Bearer $(cat ${sq(credential.file)})"`
    : credential.kind === 'env' ? ` -H "Authorization: Bearer $${credential.variable}"` : '';
  const curl = (p: Probe, stream = false) => {
    const model = JSON.stringify(p.name);
    const body = p.path === CHAT
      ? `{"model": ${model}, "messages": [{"role": "user", "content": "Hi"}]${stream ? ', "stream": true' : ''}}`
      : `{"model": ${model}, "prompt": "San Francisco is a", "temperature": 0}`;
    const headers = p.headers.map(([k, v]) => ` -H ${sq(v === '' ? `${k};` : `${k}: ${v}`)}`).join('');
    return `curl ${stream ? '-sN' : '-s'} ${input.url}${p.path} -H 'Content-Type: application/json'${headers}${auth} -d ${sq(body)}`;
  };
  const splits = (p: Probe) => p.rule.targets.filter((t) => t.weight > 0).length > 1 && !p.route.rateLimit;

  const lines: string[] = [];
  const notes: string[] = credential.kind === 'env' || credential.kind === 'unavailable' ? [credential.note] : [];
  const skipped: string[] = [];
  const shown: Probe[] = [];
  if (credential.kind !== 'unavailable') {
    const modelNames = [...new Set(snapshot.routes.flatMap((r) => (r.modelName ? [r.modelName] : [])))].sort();
    const adapters = [...new Set(snapshot.routes.flatMap((r) => r.loraAdapters))].filter((n) => !modelNames.includes(n)).sort();
    let more = 0;
    for (const name of [...modelNames, ...adapters]) {
      const p = probe(name, [COMPLETIONS, CHAT]);
      if ('why' in p) skipped.push(`${name}: ${p.why}`);
      else if (shown.length >= MAX_NAME_LINES) more++;
      else shown.push(p);
    }
    for (const p of shown) {
      lines.push(splits(p) ? `for i in $(seq 1 10); do ${curl(p)} | grep -o '"model":"[^"]*"'; done | sort | uniq -c` : curl(p));
    }
    if (snapshot.routes.length === 0) notes.push('the folder has no ModelRoute, so no model is served');
    if (more > 0) notes.push(`${more} more served name(s) not shown; the /v1/models line lists them all`);
    // One streamed chat, preferably for a name whose request needs no header and picks one target.
    const plainFirst = [...shown].sort((a, b) => Number(a.headers.length > 0 || splits(a)) - Number(b.headers.length > 0 || splits(b)));
    for (const s of plainFirst) {
      const p = probe(s.name, [CHAT]);
      if (!('why' in p)) {
        lines.push(curl(p, true));
        break;
      }
    }
  }
  if (credential.kind !== 'unavailable' || snapshot.auth?.publicModelList) {
    lines.push(`curl -s ${input.url}/v1/models${snapshot.auth?.publicModelList ? '' : auth}`);
  }
  if (snapshot.servers.some((s) => s.kvEvents)) {
    lines.push(`curl -s ${input.adminUrl}/debug/config_dump/kvevents -H "Authorization: Bearer $(cat ${sq(input.tokenFile)})"`);
  }
  notes.push(...skipped.slice(0, MAX_NOTES).map((s) => `not printed, ${s}`));
  if (skipped.length > MAX_NOTES) notes.push(`and ${skipped.length - MAX_NOTES} more name(s) not printed`);
  return { lines, notes };
}
