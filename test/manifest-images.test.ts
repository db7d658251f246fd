/**
 * Image references in the install manifests: Sluice's own image carries the version in
 * package.json, and no manifest under manifests/ uses `:latest` or an untagged image, which would
 * let a rollout or a node's re-pull run another build than the one reviewed. Reads the files; no
 * API server needed.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/processes';

describe('images', () => {
  /** Every `image:` in the YAML files under manifests/, with its file. */
  const images = (dir: string): [string, string][] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return images(path);
    if (!/\.ya?ml$/.test(e.name)) return [];
    return [...readFileSync(path, 'utf8').matchAll(/^\s*(?:-\s*)?image:\s*["']?([^\s"']+)/gm)].map((m): [string, string] => [relative(ROOT, path), m[1]!]);
  });

  it('pins Sluice\'s image to the package version, and no manifest uses :latest or an untagged image', () => {
    const all = images(join(ROOT, 'manifests'));
    const tagged = (image: string) => image.includes('@sha256:') || /:[^/:]+$/.test(image);
    expect(all.filter(([, image]) => image.endsWith(':latest') || !tagged(image))).toEqual([]);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const ours = all.filter(([, image]) => image.startsWith('ghcr.io/sluice/sluice'));
    expect(ours.map(([file]) => file).sort()).toEqual(['manifests/base/dataplane.yaml', 'manifests/base/operator.yaml']);
    for (const [file, image] of ours) expect([file, image]).toEqual([file, `ghcr.io/sluice/sluice:${version}`]);
  });
});
