/**
 * Validation of a snapshot on receipt by a data plane: the schema, then what the schema cannot
 * say (hash matches content, targets name servers that exist, regexes compile, keys unique).
 * Every problem is listed; a snapshot with any problem is refused whole.
 */
import type { Issue } from '../api/validate';
import { toFieldPath } from '../api/validate';
import { validateSchedulerConfig } from '../config/validate-scheduler-config';
import { snapshotContentHash } from './hash';
import { snapshotChecker, type RoutingSnapshot } from './schema';

/** Result of checking a snapshot. */
export type SnapshotCheck = { ok: true; snapshot: RoutingSnapshot } | { ok: false; issues: Issue[] };

/** Checks a decoded snapshot completely. */
export function validateSnapshot(raw: unknown): SnapshotCheck {
  if (!snapshotChecker.Check(raw)) {
    const issues = [...snapshotChecker.Errors(raw)].slice(0, 50).map((e) => ({ path: toFieldPath(e.path), message: e.message }));
    return { ok: false, issues };
  }
  const s = raw;
  const issues: Issue[] = [];
  const serverKeys = new Set<string>();
  for (const [key, config] of Object.entries(s.schedulers)) {
    for (const issue of validateSchedulerConfig(config)) issues.push({ path: `schedulers[${JSON.stringify(key)}].${issue.path}`, message: issue.message });
  }
  s.servers.forEach((srv, i) => {
    if (serverKeys.has(srv.key)) issues.push({ path: `servers[${i}].key`, message: `duplicate server ${srv.key}` });
    serverKeys.add(srv.key);
    if (!(srv.scheduler in s.schedulers)) issues.push({ path: `servers[${i}].scheduler`, message: `scheduler configuration ${srv.scheduler} is not in schedulers` });
  });
  const providerKeys = new Set<string>();
  (s.providers ?? []).forEach((p, i) => {
    if (providerKeys.has(p.key)) issues.push({ path: `providers[${i}].key`, message: `duplicate provider ${p.key}` });
    providerKeys.add(p.key);
    try {
      const url = new URL(p.baseURL);
      if (url.search || url.hash || url.username || url.password) issues.push({ path: `providers[${i}].baseURL`, message: 'must not carry user info, a query or a fragment' });
    } catch {
      issues.push({ path: `providers[${i}].baseURL`, message: 'not a URL' });
    }
  });
  const routeKeys = new Set<string>();
  s.routes.forEach((route, i) => {
    if (routeKeys.has(route.key)) issues.push({ path: `routes[${i}].key`, message: `duplicate route ${route.key}` });
    routeKeys.add(route.key);
    if (!route.modelName && route.loraAdapters.length === 0) issues.push({ path: `routes[${i}]`, message: 'route has neither modelName nor loraAdapters' });
    route.rules.forEach((rule, j) => {
      rule.targets.forEach((t, k) => {
        if (t.resolved && t.external && !providerKeys.has(t.server)) issues.push({ path: `routes[${i}].rules[${j}].targets[${k}].server`, message: `marked resolved but provider ${t.server} is not in the snapshot` });
        else if (t.resolved && !t.external && !serverKeys.has(t.server)) issues.push({ path: `routes[${i}].rules[${j}].targets[${k}].server`, message: `marked resolved but server ${t.server} is not in the snapshot` });
      });
      const regexes = [...rule.headers.map((h, k) => [`routes[${i}].rules[${j}].headers[${k}].match.regex`, h.match.regex] as const),
        [`routes[${i}].rules[${j}].uri.regex`, rule.uri?.regex] as const];
      for (const [path, re] of regexes) {
        if (re === undefined) continue;
        try {
          new RegExp(re);
        } catch (err) {
          issues.push({ path, message: `invalid regular expression: ${(err as Error).message}` });
        }
      }
    });
  });
  const hash = snapshotContentHash(s);
  if (hash !== s.hash) issues.push({ path: 'hash', message: `content hash is ${hash}, snapshot says ${s.hash}; the snapshot was altered or truncated` });
  return issues.length ? { ok: false, issues } : { ok: true, snapshot: s };
}
