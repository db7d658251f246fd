/**
 * Hardening defect 5: after SIGTERM, keep-alive clients kept being served on their open
 * connections, so the data plane only exited at its 20 s drain bound and reset the requests it
 * was serving then. Now a draining data plane answers with `Connection: close`, closes idle
 * connections at once and busy ones after their answer: under keep-alive load it exits well
 * within 3 s and no request is reset.
 */
import { Agent, request } from 'undici';
import type { LocalSluice } from '../helpers/cluster';
import { stopAll, waitFor } from '../helpers/processes';
import { completionBody, startQuickstartSluice } from './support';

const SUBNET = 62;
const CLIENTS = 16;
/** Bounds on the load: per client, and for the whole test. */
const MAX_REQUESTS_PER_CLIENT = 2_000;
const LOAD_DEADLINE_MS = 15_000;
let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startQuickstartSluice({ subnet: SUBNET });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

/** How each request ended. */
interface Tally {
  ok: number;
  /** Refused on connect: the listener is closed (expected after SIGTERM, not a reset). */
  refused: number;
  /** Connection reset or closed under a request already sent: must stay 0. */
  reset: number;
  other: string[];
  closeHeaders: number;
}

describe('shutdown drain', () => {
  it('exits within 3 s of SIGTERM under keep-alive load, with zero resets', async () => {
    const agent = new Agent({ connections: CLIENTS, keepAliveTimeout: 30_000, pipelining: 1 });
    const tally: Tally = { ok: 0, refused: 0, reset: 0, other: [], closeHeaders: 0 };
    let stopped = false;
    const deadline = Date.now() + LOAD_DEADLINE_MS;
    const client = async () => {
      for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && !stopped && Date.now() < deadline; i++) {
        try {
          const res = await request(`${sluice.url}/v1/completions`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: completionBody({ max_tokens: 8 }) });
          await res.body.text();
          if (res.headers.connection === 'close') tally.closeHeaders++;
          if (res.statusCode === 200) tally.ok++;
          else tally.other.push(`status ${res.statusCode}`);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'ECONNREFUSED') {
            tally.refused++;
            return; // the data plane is gone: this client is done
          }
          if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') tally.reset++;
          else tally.other.push(`${code}: ${(err as Error).message}`);
          return;
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    // Load first, so every client holds a busy keep-alive connection when the signal comes.
    await waitFor('load under way', () => tally.ok >= CLIENTS * 5, 10_000);
    const exited = new Promise<number>((resolve) => sluice.dataplane.child.once('exit', () => resolve(Date.now())));
    const t0 = Date.now();
    sluice.dataplane.child.kill('SIGTERM');
    const exitMs = (await exited) - t0;
    stopped = true;
    await Promise.all(clients);
    await agent.close();
    expect(tally.other).toEqual([]);
    expect(tally.reset).toBe(0);
    expect(exitMs).toBeLessThan(3_000);
    expect(tally.ok).toBeGreaterThan(CLIENTS * 5);
    // The clients learned of the drain from the answers, not from a closed socket.
    expect(tally.closeHeaders).toBeGreaterThan(0);
  });
});
