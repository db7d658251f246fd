import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from './crd-render';
import { allCrds, modelRouteCrd } from './crd';

type Schema = { description?: string; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: Schema | boolean };

/**
 * Paths of the fields under `node` that have no description, at every depth: through
 * properties, array items (`[]`) and map values (`{}`). `kubectl explain` shows these as <empty>.
 */
function undescribed(node: Schema, path: string): string[] {
  const out: string[] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const at = path ? `${path}.${name}` : name;
    if (!child.description?.trim()) out.push(at);
    out.push(...undescribed(child, at));
  }
  if (node.items) out.push(...undescribed(node.items, `${path}[]`));
  if (typeof node.additionalProperties === 'object') out.push(...undescribed(node.additionalProperties, `${path}{}`));
  return out;
}

const openApiSchema = (crd: Record<string, any>): Schema => crd.spec.versions[0].schema.openAPIV3Schema;

describe('CRDs', () => {
  it.each(Object.entries(renderCrdFiles()))('crds/%s matches the schema in shared/api (run `npm run gen:crds` if not)', (file, text) => {
    expect(readFileSync(join(__dirname, '..', '..', 'crds', file), 'utf8')).toBe(text);
  });

  it('crds/ holds only generated files (a CRD dropped from shared/api leaves no stale file)', () => {
    expect(readdirSync(join(__dirname, '..', '..', 'crds')).sort()).toEqual(Object.keys(renderCrdFiles()).sort());
  });

  it.each(Object.entries(allCrds()))('%s describes every field at every depth, so kubectl explain has no <empty>', (_file, crd) => {
    const root = openApiSchema(crd);
    expect(root.description).toBeTruthy();
    // metadata may carry nothing but its type: the API server describes ObjectMeta itself.
    expect(undescribed(root, '')).toEqual(['metadata']);
  });

  it('the description check finds a field without one, however deep', () => {
    const schema: Schema = { properties: { spec: { description: 'd', properties: { a: { description: 'd', items: { properties: { b: { additionalProperties: { properties: { c: {} } } } } } } } } } };
    expect(undescribed(schema, '')).toEqual(['spec.a[].b', 'spec.a[].b{}.c']);
  });

  it('uses only structural-schema keywords', () => {
    const bad: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (typeof node !== 'object' || node === null) return;
      for (const [k, v] of Object.entries(node)) {
        if (['anyOf', 'allOf', 'oneOf', 'const', 'patternProperties', '$id'].includes(k)) bad.push(`${path}.${k}`);
        if (k === 'additionalProperties' && v === false) bad.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
    };
    walk(modelRouteCrd(), '');
    expect(bad).toEqual([]);
  });
});
