import { compileSnapshot } from './compile';
import { MAX_SNAPSHOT_VERSION } from './schema';
import { validateSnapshot } from './validate-snapshot';

const at = (version: number) => ({ ...compileSnapshot({ routes: [], servers: [], pods: [] }, { version: 1, generatedAt: 't', routerConfigNamespace: 'default' }).snapshot, version });

describe('validateSnapshot: version', () => {
  it.each([[1], [42], [MAX_SNAPSHOT_VERSION]])('accepts %s', (v) => {
    expect(validateSnapshot(at(v)).ok).toBe(true);
  });

  // Hardening defect 6: 1e300 passed as an integer; the operator then renumbered above it for ever.
  it.each([[1e300], [MAX_SNAPSHOT_VERSION + 1], [2 ** 53], [0], [1.5]])('refuses %s at the field version', (v) => {
    const r = validateSnapshot(at(v));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => i.path)).toContain('version');
  });
});
