import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODES } from './modes';

describe('sluice-bench modes', () => {
  it('docs/performance.md names the modes modes.ts lists, in the same order', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'performance.md'), 'utf8');
    // The sentence "`--help` lists the modes (...): `a`, `b`, ... and `z`." up to its full stop.
    const sentence = /lists the modes \([^)]*\):([^.]*)\./.exec(doc);
    expect(sentence).not.toBeNull();
    const documented = [...sentence![1]!.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]);
    expect(documented).toEqual(MODES.map(([name]) => name));
  });
});
