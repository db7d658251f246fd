/**
 * Every YAML example in docs/ that is a whole object must be accepted as written: ModelRoutes,
 * ModelServers and InferencePools by the validator the operator runs (and their queue
 * annotations by the compiler), router ConfigMaps by the scheduler and policy parsers.
 * Fragments (no apiVersion and kind) are left alone; so are kinds Sluice does not read.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { validateObject } from '../shared/api/validate';
import type { Issue } from '../shared/api/validate';
import { parseQueueAnnotations } from '../shared/config/queue-annotations';
import { schedulerConfigFromConfigMap } from '../shared/config/scheduler-config-source';
import { ROOT } from './helpers/processes';

const READ = new Set(['ModelRoute', 'ModelServer', 'InferencePool', 'ExternalModelProvider', 'Secret']);

/** [doc, block index, object] for every whole object in a ```yaml block. */
function examples(): [string, number, Record<string, unknown>][] {
  const out: [string, number, Record<string, unknown>][] = [];
  for (const file of readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(join(ROOT, 'docs', file), 'utf8');
    const blocks = [...text.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    blocks.forEach((block, i) => {
      let docs: unknown[];
      try {
        docs = yaml.loadAll(block);
      } catch {
        return; // not parseable alone (a fragment with placeholders); fragments are not checked
      }
      for (const d of docs) {
        const o = d as Record<string, unknown> | null;
        if (o && typeof o === 'object' && typeof o.apiVersion === 'string' && typeof o.kind === 'string') out.push([file, i, o]);
      }
    });
  }
  return out;
}

const all = examples();

describe('YAML examples in docs/', () => {
  it('finds the governance pages\' examples', () => {
    const files = new Set(all.map(([f]) => f));
    for (const f of ['auth.md', 'rate-limits.md', 'fairness.md']) expect(files).toContain(f);
  });

  it.each(all.filter(([, , o]) => READ.has(o.kind as string)).map(([f, i, o]) => [`${f} block ${i} ${o.kind} ${(o.metadata as { name?: string })?.name}`, o]))('%s is valid', (_name, o) => {
    const r = validateObject(o);
    expect(r.ok ? [] : r.issues).toEqual([]);
    const issues: Issue[] = [];
    parseQueueAnnotations(((o as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations) ?? {}, issues);
    expect(issues).toEqual([]);
  });

  it.each(all.filter(([, , o]) => o.kind === 'ConfigMap' && /router-config$/.test(String((o.metadata as { name?: string })?.name))).map(([f, i, o]) => [`${f} block ${i}`, o]))('%s router ConfigMap parses', (_name, o) => {
    const r = schedulerConfigFromConfigMap(o as { metadata: { name: string }; data?: Record<string, string> });
    expect('issues' in r ? r.issues : []).toEqual([]);
  });
});

describe('scheduler ConfigMaps in docs/', () => {
  it.each(all.filter(([, , o]) => o.kind === 'ConfigMap' && !/router-config$/.test(String((o.metadata as { name?: string })?.name))).map(([f, i, o]) => [`${f} block ${i}`, o]))('%s parses', (_name, o) => {
    const r = schedulerConfigFromConfigMap(o as { metadata: { name: string }; data?: Record<string, string> });
    expect('issues' in r ? r.issues : []).toEqual([]);
  });
});
