/**
 * package-lock.json lists every optional dependency of every package, for every platform. A
 * lockfile written without them (an older npm, or one that resolved only this machine's
 * `@swc/core-linux-x64-gnu`) is rewritten by npm 11 on the next `npm install`, which leaves the
 * tracked file dirty on a fresh machine, and `npm ci` refuses it as out of sync.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/processes';

interface LockPackage {
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockPackage> };

/** Where npm would place `dep` required by the package at `at`: nested first, then each parent up. */
function resolves(at: string, dep: string): boolean {
  let base = at;
  while (true) {
    if (lock.packages[`${base ? `${base}/` : ''}node_modules/${dep}`]) return true;
    if (!base) return false;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

it('is lockfile version 3', () => {
  expect(lock.lockfileVersion).toBe(3);
});

it('holds every optional dependency, for all platforms, so npm install leaves it unchanged', () => {
  const missing = Object.entries(lock.packages).flatMap(([at, pkg]) =>
    Object.keys(pkg.optionalDependencies ?? {}).filter((dep) => !resolves(at, dep)).map((dep) => `${at || '(root)'} → ${dep}`));
  expect(missing).toEqual([]);
});
