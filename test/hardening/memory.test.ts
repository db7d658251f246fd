/**
 * Memory under slow bodies (defect 2). 100 connections each start a 4 MiB body and trickle it:
 * unauthenticated ones are refused on their headers and hold nothing; authenticated ones are held
 * to --max-inflight-body-bytes in total. The data plane's RSS may grow by at most 64 MiB
 * (docs/security.md), where buffering every body would take 400 MiB.
 */
import { readFileSync } from 'node:fs';
import type { LocalSluice } from '../helpers/cluster';
import { stopAll } from '../helpers/processes';
import { rawConnect, postHead, type RawConnection } from './raw-http';
import { TEST_KEY, startQuickstartSluice } from './support';

const SUBNET = 65;
const MIB = 1024 * 1024;
const CONNECTIONS = 100;
const BODY = 4 * MIB;
const CHUNK = 64 * 1024;
/** Growth allowed, documented in docs/security.md. */
const RSS_BOUND_MIB = 64;
const BUDGET = 16 * MIB;
let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startQuickstartSluice({ subnet: SUBNET, auth: true, dataplaneArgs: ['--max-inflight-body-bytes', String(BUDGET), '--request-body-timeout-ms', '20000'] });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/**
 * Opens `CONNECTIONS` slow uploads and trickles chunks round-robin for at most `ms` or until every
 * body is sent; tracks the data plane's peak RSS. Bounded in count (bytes) and time.
 */
async function slowUploads(headers: Record<string, string>, ms: number): Promise<{ peak: number; refused: number; accepted: number }> {
  const pid = sluice.dataplane.child.pid!;
  const conns: RawConnection[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    // Chunked, no Content-Length: nothing is reserved up front, every byte counts as it arrives.
    const c = await rawConnect(sluice.url);
    c.socket.on('error', () => undefined); // a refused upload is reset while still writing
    c.socket.write(postHead('/v1/completions', 0, headers).replace('content-length: 0', 'transfer-encoding: chunked'));
    const start = '{"model":"deepseek-simple","prompt":"';
    c.socket.write(`${start.length.toString(16)}\r\n${start}\r\n`);
    conns.push(c);
  }
  const chunk = Buffer.alloc(CHUNK, 0x20);
  const frame = Buffer.concat([Buffer.from(`${CHUNK.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
  const deadline = Date.now() + ms;
  const sent = new Map<RawConnection, number>(conns.map((c) => [c, 0]));
  // A connection is done once the body is sent or the data plane answered (or closed) it.
  const active = (c: RawConnection) => !c.socket.destroyed && c.received() === '' && sent.get(c)! < BODY;
  let peak = rssMiB(pid);
  while (Date.now() < deadline && conns.some(active)) {
    for (const c of conns) {
      // Slow and with backpressure: only when the previous chunk has left the socket buffer.
      if (!active(c) || c.socket.writableLength > 0) continue;
      c.socket.write(frame);
      sent.set(c, sent.get(c)! + CHUNK);
    }
    await new Promise((r) => setTimeout(r, 5)); // pacing of the trickle, not synchronisation
    peak = Math.max(peak, rssMiB(pid));
  }
  // Refused: answered 401/503, or closed by the data plane (a reset may swallow the answer when
  // the client was still writing, which is the point of closing).
  const refused = conns.filter((c) => /^HTTP\/1\.1 (401|503)/.test(c.received()) || (c.received() === '' && c.socket.destroyed)).length;
  const accepted = conns.filter((c) => /^HTTP\/1\.1 2/.test(c.received())).length;
  for (const c of conns) c.socket.destroy();
  return { peak, refused, accepted };
}

describe('memory under slow request bodies', () => {
  it(`unauthenticated slow bodies grow RSS by less than ${RSS_BOUND_MIB} MiB`, async () => {
    const base = rssMiB(sluice.dataplane.child.pid!);
    const { peak, refused, accepted } = await slowUploads({}, 15_000);
    // Refused on the headers; what the client still sends is read and dropped, never kept.
    expect(refused).toBe(CONNECTIONS);
    expect(accepted).toBe(0);
    expect(peak - base).toBeLessThan(RSS_BOUND_MIB);
  });

  it(`authenticated slow bodies are held to the in-flight budget: RSS grows by less than ${RSS_BOUND_MIB} MiB`, async () => {
    const base = rssMiB(sluice.dataplane.child.pid!);
    const { peak, refused } = await slowUploads({ authorization: `Bearer ${TEST_KEY}` }, 15_000);
    // 100 × 4 MiB cannot fit a 16 MiB budget: most uploads are refused with 503 along the way.
    expect(refused).toBeGreaterThan(CONNECTIONS / 2);
    expect(peak - base).toBeLessThan(RSS_BOUND_MIB);
  });
});
