/**
 * Hardening defect 3: curl adds `Expect: 100-continue` to bodies of 1 MiB and more; Sluice
 * forwarded it and undici refused the request, so the client got 502. Hop-by-hop headers and
 * `expect` are now dropped before forwarding. The test uses the real curl binary.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LocalSluice } from '../helpers/cluster';
import { stopAll, tempDir } from '../helpers/processes';
import { completionBody, startQuickstartSluice } from './support';

const run = promisify(execFile);
const SUBNET = 61;
let sluice: LocalSluice;
const tmp = tempDir('curl');

beforeAll(async () => {
  sluice = await startQuickstartSluice({ subnet: SUBNET });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
  tmp.cleanup();
});

/** POSTs `file` with curl -v; returns the status, the answer and what curl says it sent. */
async function curl(file: string, extra: string[] = []): Promise<{ status: number; body: string; trace: string }> {
  const { stdout, stderr } = await run('curl', ['-sS', '-v', '--max-time', '20', '-H', 'content-type: application/json', '--data-binary', `@${file}`,
    '-w', '\n%{http_code}', ...extra, `${sluice.url}/v1/completions`], { maxBuffer: 16 * 1024 * 1024 });
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut), trace: stderr };
}

describe('forwarding headers', () => {
  it('serves a 1.2 MB body that curl sends with Expect: 100-continue', async () => {
    const file = join(tmp.dir, 'big.json');
    writeFileSync(file, completionBody({ user: 'u'.repeat(1_200_000) }));
    const r = await curl(file);
    expect(r.trace).toMatch(/> Expect: 100-continue/i);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).choices[0].text).toBeTruthy();
  });

  it('serves small bodies carrying Expect, Connection-named and proxy- headers', async () => {
    const file = join(tmp.dir, 'small.json');
    writeFileSync(file, completionBody());
    const r = await curl(file, ['-H', 'Expect: 100-continue', '-H', 'Connection: keep-alive, x-hop', '-H', 'x-hop: 1', '-H', 'Proxy-Foo: 1', '-H', 'TE: trailers']);
    expect(r.status).toBe(200);
  });
});
