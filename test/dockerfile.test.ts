/**
 * The Dockerfile's promises, checked without Docker (this machine has the client but no engine):
 * a pinned Node 20 base, a runtime stage that takes only dist/ and the production node_modules
 * from the build stage and runs as a non-root user, the tag `npm run image` builds equal to the
 * one the manifests run, and a .dockerignore that keeps the host's node_modules
 * and dist out of the build context. Reads files only.
 */
import yaml from 'js-yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/processes';

/** One Dockerfile instruction: `COPY --from=build /a /b` → { op: 'COPY', args: '--from=build /a /b' }. */
interface Instruction {
  op: string;
  args: string;
}

/**
 * The Dockerfile's stages, each a list of instructions starting with its FROM, with the defaults
 * of the ARGs declared before the first FROM substituted into the FROM lines (`FROM ${BASE_IMAGE}`
 * → `FROM node:20.20-bookworm-slim`). `globals` gets those ARGs' defaults.
 */
function stages(text: string, globals: Record<string, string> = {}): Instruction[][] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out: Instruction[][] = [];
  for (const line of lines) {
    const [, op, args] = line.match(/^(\S+)\s+(.*)$/)!;
    const ins = { op: op!.toUpperCase(), args: args!.replace(/\s+/g, ' ') };
    if (ins.op === 'FROM') {
      ins.args = ins.args.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a?: string, b?: string) => globals[(a ?? b)!] ?? m);
      out.push([ins]);
    } else if (!out.length) {
      if (ins.op !== 'ARG') throw new Error(`only ARG may come before the first FROM, not ${ins.op}`);
      const [name, value] = ins.args.split('=');
      globals[name!] = value ?? '';
    } else out.at(-1)!.push(ins);
  }
  return out;
}

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { version: string; scripts: Record<string, string>; bin: Record<string, string> };
const globalArgs: Record<string, string> = {};
const all = stages(read('Dockerfile'), globalArgs);
const runtime = all.at(-1)!;
const build = all.find((s) => /\bAS build$/i.test(s[0]!.args))!;

describe('Dockerfile', () => {
  it('has a build stage and a runtime stage, both on the same pinned Node 20 slim base', () => {
    expect(all).toHaveLength(2);
    expect(build).toBeDefined();
    // The base can be overridden (hack/image/build.sh --stand-in-base), only as a whole: both
    // stages name BASE_IMAGE, whose default is the pinned official image.
    expect(Object.keys(globalArgs)).toEqual(['BASE_IMAGE']);
    expect(read('Dockerfile').match(/^FROM \S+/gm)).toEqual(['FROM ${BASE_IMAGE}', 'FROM ${BASE_IMAGE}']);
    const bases = all.map((s) => s[0]!.args.split(' ')[0]!);
    // node:20.<minor>[.<patch>]-<debian release>-slim: no `latest`, no floating `20` or `lts`.
    for (const base of bases) expect(base).toMatch(/^node:20\.\d+(\.\d+)?-(bookworm|trixie)-slim$/);
    expect(new Set(bases).size).toBe(1);
  });

  it('compiles with tsconfig.build.json after `npm ci`, and drops the development dependencies before the runtime stage copies node_modules', () => {
    const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
    const at = (re: RegExp) => runs.search(re);
    expect(at(/npm ci\b/)).toBeGreaterThanOrEqual(0);
    expect(at(/tsc -p tsconfig\.build\.json/)).toBeGreaterThan(at(/npm ci\b/));
    expect(at(/npm prune --omit=dev/)).toBeGreaterThan(at(/tsc -p tsconfig\.build\.json/));
  });

  it('copies only dist/ and the production node_modules into the runtime stage, from the build stage', () => {
    const copies = runtime.filter((i) => i.op === 'COPY' || i.op === 'ADD');
    expect(copies.map((i) => i.args).sort()).toEqual(['--from=build /src/dist ./dist', '--from=build /src/node_modules ./node_modules']);
    expect(runtime.filter((i) => i.op === 'WORKDIR').map((i) => i.args)).toEqual(['/app']);
  });

  it('runs as the numeric non-root user the Deployments ask for (65532)', () => {
    const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users).toEqual(['65532:65532']);
    // USER comes after every RUN, so nothing in the image is made by the runtime user.
    const last = (op: string) => runtime.map((i) => i.op).lastIndexOf(op);
    expect(last('USER')).toBeGreaterThan(last('RUN'));
    for (const file of ['manifests/base/dataplane.yaml', 'manifests/base/operator.yaml']) {
      const deployment = (yaml.loadAll(read(file)) as any[]).find((o) => o.kind === 'Deployment');
      expect([file, deployment.spec.template.spec.securityContext]).toEqual([file, expect.objectContaining({ runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true })]);
    }
  });

  it('puts sluice-dataplane and sluice-operator on the PATH, pointing at the package\'s bin entries', () => {
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ');
    for (const name of ['sluice-dataplane', 'sluice-operator']) {
      expect(runs).toContain(`ln -s /app/${pkg.bin[name]} /usr/local/bin/${name}`);
      expect(build.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ')).toContain(pkg.bin[name]);
    }
  });

  it('is tagged by `npm run image` with the package version, the tag manifests/base runs', () => {
    expect(pkg.scripts.image).toBe('docker build -t ghcr.io/sluice/sluice:$npm_package_version .');
    const image = `ghcr.io/sluice/sluice:${pkg.version}`;
    for (const file of ['manifests/base/dataplane.yaml', 'manifests/base/operator.yaml']) {
      expect([file, read(file).match(/image: (\S+)/)![1]]).toEqual([file, image]);
    }
    // The chart's default image is checked in test/helm-chart.test.ts, on the rendered objects.
  });
});

describe('.dockerignore', () => {
  it('sends only the package files, the tsconfigs and the sources the build stage copies', () => {
    const rules = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(rules[0]).toBe('*');
    expect(rules).toEqual(expect.arrayContaining(['**/*.test.ts', '**/node_modules']));
    const allowed = rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1).replace(/\/$/, '')).sort();
    const copied = build.filter((i) => i.op === 'COPY').flatMap((i) => i.args.split(' ').slice(0, -1)).sort();
    expect(allowed).toEqual(copied);
  });
});
