import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from './crd-render';
import { modelRouteCrd } from './crd';

describe('CRDs', () => {
  it.each(Object.entries(renderCrdFiles()))('crds/%s matches the schema in shared/api (run `npm run gen:crds` if not)', (file, text) => {
    expect(readFileSync(join(__dirname, '..', '..', 'crds', file), 'utf8')).toBe(text);
  });

  it('crds/ holds only generated files (a CRD dropped from shared/api leaves no stale file)', () => {
    expect(readdirSync(join(__dirname, '..', '..', 'crds')).sort()).toEqual(Object.keys(renderCrdFiles()).sort());
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
