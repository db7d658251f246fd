import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from './codes';

describe('error code registry', () => {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `(SLUICE_[A-Z_]+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]);

  it('docs/errors.md lists exactly the registered codes, with their HTTP status', () => {
    const registered = Object.entries(ERROR_CODES).map(([code, spec]) => [code, spec.status]);
    expect(documented.sort()).toEqual(registered.sort());
  });

  it.each(Object.entries(ERROR_CODES))('%s has a status that matches its type', (_code, spec) => {
    if (spec.status >= 500) expect(spec.type).toBe('server_error');
    else expect(spec.type).not.toBe('server_error');
  });
});
