/**
 * Hardening defect 2: bodies were buffered before authentication, and `requestTimeout: 0` let a
 * withheld body pin a connection and its memory for ever. Now: auth is decided on the headers
 * before any body byte is read, a body must arrive within --request-body-timeout-ms (408, coded),
 * the bytes of all bodies in flight are capped (503 SLUICE_OVERLOADED), and none of that cuts a
 * long streamed answer. Defect 7: a body nested 10k levels deep overflowed the stack when the
 * model was rewritten (500 SLUICE_INTERNAL); it is now a 400 naming the depth limit.
 */
import { request } from 'undici';
import type { LocalSluice } from '../helpers/cluster';
import { stopAll } from '../helpers/processes';
import { rawConnect, postHead, type RawConnection } from './raw-http';
import { TEST_KEY, completionBody, startQuickstartSluice } from './support';

const SUBNET = 60;
const BODY_TIMEOUT_MS = 400;
const MIB = 1024 * 1024;
let sluice: LocalSluice;
const open: RawConnection[] = [];

beforeAll(async () => {
  sluice = await startQuickstartSluice({
    subnet: SUBNET,
    auth: true,
    timeScale: 1,
    dataplaneArgs: ['--request-body-timeout-ms', String(BODY_TIMEOUT_MS), '--headers-timeout-ms', '400',
      '--max-body-bytes', String(MIB), '--max-inflight-body-bytes', String(2 * MIB)],
  });
});

afterAll(async () => {
  for (const c of open) c.socket.destroy();
  await stopAll();
  sluice?.cleanup();
});

const authed = { authorization: `Bearer ${TEST_KEY}` };

async function withheld(headers: Record<string, string>, declared = MIB): Promise<RawConnection> {
  const c = await rawConnect(sluice.url);
  open.push(c);
  c.socket.write(postHead('/v1/completions', declared, headers));
  return c;
}

describe('request limits on the traffic listener', () => {
  it('refuses an unauthenticated request on its headers, without waiting for the body, and closes the connection', async () => {
    const c = await withheld({});
    const res = await c.response(2_000);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('SLUICE_AUTH_REQUIRED');
    expect(res.headers.connection).toBe('close');
    await c.closed;
  });

  it('answers 408 SLUICE_REQUEST_TIMEOUT when an authenticated body does not arrive in time', async () => {
    const c = await withheld(authed);
    c.socket.write('{"model":');
    const t0 = Date.now();
    const res = await c.response(5_000);
    const took = Date.now() - t0;
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body).error).toMatchObject({ code: 'SLUICE_REQUEST_TIMEOUT', type: 'invalid_request_error' });
    expect(took).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
    expect(took).toBeLessThan(3_000);
    await c.closed;
  });

  it('caps the body bytes held across requests: 503 SLUICE_OVERLOADED when full, served again once they are released', async () => {
    const holders = [await withheld(authed), await withheld(authed)];
    const third = await withheld(authed);
    const res = await third.response(2_000);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).error.code).toBe('SLUICE_OVERLOADED');
    for (const h of holders) h.socket.destroy();
    // Each holder's bytes come back when its connection closes; a full-size body then fits again.
    const deadline = Date.now() + 5_000;
    let status = 0;
    while (Date.now() < deadline) {
      const body = completionBody({ user: 'x'.repeat(MIB - 200) });
      const r = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { ...authed, 'content-type': 'application/json' }, body });
      await r.body.dump();
      status = r.statusCode;
      if (status !== 503) break;
    }
    expect(status).toBe(200);
  });

  it.each([
    ['10k nested arrays', `{"model":"deepseek-simple","prompt":"hi","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`],
    ['10k nested objects', `{"model":"deepseek-simple","prompt":"hi","x":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`],
    ['65 levels, one over the limit', `{"model":"deepseek-simple","prompt":"hi","x":${'['.repeat(64)}${']'.repeat(64)}}`],
  ])('answers 400 SLUICE_JSON_TOO_DEEP naming the limit for %s', async (_name, body) => {
    const r = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { ...authed, 'content-type': 'application/json' }, body });
    const answer = (await r.body.json()) as { error: { code: string; message: string } };
    expect(r.statusCode).toBe(400);
    expect(answer.error.code).toBe('SLUICE_JSON_TOO_DEEP');
    expect(answer.error.message).toContain('64');
  });

  it('still serves a body nested exactly at the limit', async () => {
    const body = `{"model":"deepseek-simple","prompt":"hi","max_tokens":2,"x":${'['.repeat(63)}${']'.repeat(63)}}`;
    const r = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { ...authed, 'content-type': 'application/json' }, body });
    await r.body.dump();
    expect(r.statusCode).toBe(200);
  });

  it('does not cut a streamed answer that lasts longer than every request timeout', async () => {
    const t0 = Date.now();
    const res = await request(`${sluice.url}/v1/completions`, {
      method: 'POST',
      headers: { ...authed, 'content-type': 'application/json' },
      body: completionBody({ max_tokens: 200, ignore_eos: true, stream: true }),
    });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(text).toContain('data: [DONE]');
    // headers 400 + body 400 + Node's 1 s backstop: the stream outlived all of them.
    expect(Date.now() - t0).toBeGreaterThan(1_800);
  });
});
