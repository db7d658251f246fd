import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectorySource } from './directory-source';

const ROUTE = (weight: number) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: r
spec:
  modelName: m
  rules:
  - targetModels:
    - modelServerName: s
      weight: ${weight}
`;

describe('DirectorySource', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'sluice-dirsrc-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reports an invalid object with file, document, object and field, and keeps its last valid version', () => {
    const src = new DirectorySource(dir);
    writeFileSync(join(dir, 'r.yaml'), ROUTE(50));
    expect(src.load().issues).toEqual([]);
    writeFileSync(join(dir, 'r.yaml'), ROUTE(500));
    const { objects, issues } = src.load();
    expect(issues[0]).toEqual({ file: 'r.yaml', document: 0, object: 'ModelRoute default/r', path: 'spec.rules[0].targetModels[0].weight', message: 'must be at most 100 (got number 500)' });
    expect(issues[1]!.message).toMatch(/last valid version stays in force/);
    expect(objects.routes[0]!.spec.rules[0]!.targetModels[0]!.weight).toBe(50);
  });

  it('keeps the last valid objects of a file that no longer parses', () => {
    const src = new DirectorySource(dir);
    writeFileSync(join(dir, 'r.yaml'), ROUTE(50));
    src.load();
    writeFileSync(join(dir, 'r.yaml'), 'kind: [unclosed');
    const { objects, issues } = src.load();
    expect(issues[0]!.message).toMatch(/not valid YAML.*keeping its last valid objects \(ModelRoute default\/r\)/);
    expect(objects.routes).toHaveLength(1);
  });

  it('stamps creationTimestamp once and bumps generation only when the spec changes', () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const src = new DirectorySource(dir, () => now);
    writeFileSync(join(dir, 'r.yaml'), ROUTE(50));
    const first = src.load().objects.routes[0]!;
    now = new Date('2026-06-01T00:00:00Z');
    const same = src.load().objects.routes[0]!;
    writeFileSync(join(dir, 'r.yaml'), ROUTE(60));
    const changed = src.load().objects.routes[0]!;
    expect([first.metadata.generation, same.metadata.generation, changed.metadata.generation]).toEqual([1, 1, 2]);
    expect(changed.metadata.creationTimestamp).toBe('2026-01-01T00:00:00.000Z');
  });

  it('reports a duplicate object and unknown kinds', () => {
    writeFileSync(join(dir, 'a.yaml'), `${ROUTE(1)}---\n${ROUTE(2)}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: x\n`);
    const { objects, issues } = new DirectorySource(dir).load();
    expect(objects.routes).toHaveLength(1);
    expect(issues.map((i) => [i.document, i.path])).toEqual([[1, 'metadata.name'], [2, 'kind']]);
  });
});
