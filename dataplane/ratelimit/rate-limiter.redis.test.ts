/**
 * Global budgets against a real redis-server on loopback: the Lua script agrees with the local
 * model, three replicas share one budget exactly, and the limiter survives Redis going away
 * (stopped, or hung) and coming back by itself.
 */
import { Writable } from 'node:stream';
import Redis from 'ioredis';
import pino from 'pino';
import { SluiceError } from '../../shared/errors/codes';
import { mulberry32 } from '../../shared/util/random';
import { waitFor } from '../../test/helpers/processes';
import { freePort, startRedisServer, type RedisServer } from '../../test/helpers/redis-server';
import type { Budget, LimitSpec } from './limit-spec';
import { LocalBuckets } from './local-buckets';
import { RateLimiter, type LimitDecision } from './rate-limiter';
import { redisKeys, runBucketScript, defineBucketScript } from './redis-script';
import { testsNeeding } from '../../test/helpers/requirements';

// Skipped, with one line saying how to enable them, when redis-server is missing (failed under SLUICE_REQUIRE_ALL_TESTS=1).
const { describe, it, beforeAll, afterAll, afterEach } = testsNeeding('redis-server');

const TIMEOUT_MS = 250;
const silent = pino({ level: 'silent' });
let redis: RedisServer;
const limiters: RateLimiter[] = [];
let keySeq = 0;

function limiter(opts: Partial<ConstructorParameters<typeof RateLimiter>[0]> = {}): RateLimiter {
  const rl = new RateLimiter({ log: silent, redisCommandTimeoutMs: TIMEOUT_MS, ...opts });
  limiters.push(rl);
  return rl;
}

/** A fresh global budget on the test Redis. */
function budget(spec: LimitSpec, failureMode: 'open' | 'closed' = 'open', address = redis.address): Budget {
  const key = `test/route-${++keySeq}|route`;
  return { key, route: `test/route-${keySeq}`, scope: 'route', spec, redis: { address, failureMode } };
}

/** Log lines (parsed) written by a pino logger at info level and above. */
function captureLog() {
  const lines: { msg: string; level: number }[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString())); done(); } });
  return { log: pino({ level: 'info' }, stream), lines };
}

async function redisTimeMs(client: Redis): Promise<number> {
  const [s, us] = await client.time();
  return Number(s) * 1000 + Number(us) / 1000;
}

/** Redis Cluster's hash tag: the text between the first `{` and the next `}`, if not empty. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

beforeAll(async () => {
  redis = await startRedisServer();
});

afterEach(async () => {
  await Promise.all(limiters.splice(0).map((rl) => rl.close()));
});

afterAll(async () => {
  await redis?.close();
});

describe('the Lua script', () => {
  it('admits exactly as the local model on a random sequence of checks and charges', async () => {
    // 100 input / 50 output tokens per day: during this test Redis refills less than 0.01 token,
    // so integer levels compare exactly. Output starts at 49.5 (a half-token charge) so it never
    // sits at exactly 0, where that sliver of refill would decide.
    const spec: LimitSpec = { inputPerUnit: 100, outputPerUnit: 50, unitMs: 86_400_000 };
    const client = defineBucketScript(new Redis(redis.port, redis.host));
    const b = budget(spec);
    const model = new LocalBuckets(() => 0);
    const rand = mulberry32(7);
    try {
      await runBucketScript(client, b, 'charge', 0, 0.5);
      model.charge(b.key, spec, 0, 0.5);
      const start = performance.now();
      let refused = 0;
      for (let i = 0; i < 400; i++) {
        if (rand() < 0.6) {
          const estimate = rand() < 0.05 ? 101 : Math.floor(rand() * 30);
          const got = await runBucketScript(client, b, 'check', estimate, 0);
          const want = model.check(b.key, spec, estimate);
          const slackMs = performance.now() - start + 2;
          expect([i, got.verdict, Math.floor(got.inTokens!), Math.floor(got.outTokens!)])
            .toEqual([i, want.verdict, Math.floor(want.inTokens!), Math.floor(want.outTokens!)]);
          // Redis has refilled a little more, so it may say "sooner" by up to the elapsed time.
          expect(want.waitMs - got.waitMs).toBeGreaterThanOrEqual(0);
          expect(want.waitMs - got.waitMs).toBeLessThanOrEqual(slackMs);
          if (got.verdict !== 0) refused++;
        } else {
          const correction = Math.floor(rand() * 21) - 10;
          const output = Math.floor(rand() * 40);
          await runBucketScript(client, b, 'charge', correction, output);
          model.charge(b.key, spec, correction, output);
        }
      }
      expect(refused).toBeGreaterThan(50); // the sequence did exercise refusals
    } finally {
      client.disconnect();
    }
  });

  it('keeps both keys under one hash tag (one Cluster slot), deletes full buckets and expires the rest when full again', async () => {
    const client = defineBucketScript(new Redis(redis.port, redis.host));
    try {
      const b = budget({ inputPerUnit: 1_000, outputPerUnit: 1_000, unitMs: 60_000 });
      const keys = redisKeys(b.key);
      expect(keys.in).toBe(`sluice:rl:{${b.key}}:in`);
      expect(hashTag(keys.in)).toBe(b.key);
      expect(hashTag(keys.out)).toBe(b.key);
      // A `}` in a user name cuts the tag short, but the same way for both keys.
      const odd = redisKeys('ns/r|user:we}ird{');
      expect(hashTag(odd.in)).toBe(hashTag(odd.out));
      await runBucketScript(client, b, 'check', 500, 0);
      expect(await client.hgetall(keys.in)).toMatchObject({ tokens: '500' });
      // 500 missing at 1000/min: full in 30 s; the key lives that long plus 1 s.
      expect(await client.pttl(keys.in)).toBeGreaterThan(29_000);
      expect(await client.pttl(keys.in)).toBeLessThanOrEqual(31_000);
      expect(await client.exists(keys.out)).toBe(0);
      await runBucketScript(client, b, 'charge', -500, 0);
      expect(await client.exists(keys.in)).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});

describe('three replicas on one budget', () => {
  it('admit capacity + rate × elapsed, within 2%', async () => {
    // 10,000 input tokens per second, 20 per request: 500 admitted at once, then one per 2 ms;
    // keeping that drained takes only ~500 checks/s, so a busy CI machine still saturates it.
    const spec: LimitSpec = { inputPerUnit: 10_000, outputPerUnit: null, unitMs: 1_000 };
    const PER_REQUEST = 20;
    const b = budget(spec);
    const replicas = [limiter(), limiter(), limiter()];
    const clock = new Redis(redis.port, redis.host);
    let admitted = 0;
    let refused = 0;
    try {
      await Promise.all(replicas.map((rl) => rl.check(budget({ inputPerUnit: 1, outputPerUnit: null, unitMs: 1_000 }), 0))); // connect all
      const t0 = await redisTimeMs(clock);
      const stopAt = performance.now() + 1_000;
      const worker = async (rl: RateLimiter) => {
        for (let n = 0; n < 20_000 && performance.now() < stopAt; n++) {
          const d = await rl.check(b, PER_REQUEST);
          if (d.degraded) throw new Error('Redis unexpectedly unreachable');
          if (d.allowed) admitted++;
          else refused++;
        }
      };
      await Promise.all(replicas.flatMap((rl) => Array.from({ length: 8 }, () => worker(rl))));
      const elapsedMs = (await redisTimeMs(clock)) - t0;
      const expected = (spec.inputPerUnit! + (spec.inputPerUnit! * elapsedMs) / spec.unitMs) / PER_REQUEST;
      console.log(`3 replicas × 8 workers: ${admitted} admitted, ${refused} refused in ${elapsedMs.toFixed(0)} ms (Redis TIME); expected ${expected.toFixed(0)}`);
      expect(refused).toBeGreaterThan(0); // the budget was drained (else admitted would fall short)
      expect(Math.abs(admitted - expected)).toBeLessThanOrEqual(expected * 0.02);
    } finally {
      clock.disconnect();
    }
  });
});

describe('Redis clients', () => {
  it('share one connection per address across budgets, and retain() closes unused ones', async () => {
    const admin = new Redis(redis.port, redis.host);
    const connections = async () => (await admin.client('LIST') as string).trim().split('\n').length;
    try {
      const before = await connections();
      const rl = limiter();
      const spec: LimitSpec = { inputPerUnit: 100, outputPerUnit: null, unitMs: 1_000 };
      await rl.check(budget(spec), 1);
      await rl.check(budget(spec, 'closed'), 1);
      expect(await connections()).toBe(before + 1);
      await rl.retain(new Set([redis.address]));
      expect(await connections()).toBe(before + 1);
      await rl.retain(new Set());
      await waitFor('the client to disconnect', async () => (await connections()) === before, 5_000);
      // Created again, lazily, by the next check.
      expect(await rl.check(budget(spec), 1)).toMatchObject({ allowed: true, degraded: false });
    } finally {
      admin.disconnect();
    }
  });
});

describe('check latency on loopback', () => {
  it('is measured over 2,000 sequential checks', async () => {
    const rl = limiter();
    const b = budget({ inputPerUnit: 1e12, outputPerUnit: 1e12, unitMs: 1_000 });
    for (let i = 0; i < 200; i++) await rl.check(b, 10); // warm-up: connection, EVALSHA cache, JIT
    const ms: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const t = process.hrtime.bigint();
      const d = await rl.check(b, 10);
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (!d.allowed || d.degraded) throw new Error(`unexpected decision ${JSON.stringify(d)}`);
    }
    ms.sort((x, y) => x - y);
    // Redis's own time in the script, to tell server cost from client and event-loop cost.
    const stats = new Redis(redis.port, redis.host);
    const evalsha = /cmdstat_evalsha:.*usec_per_call=([\d.]+)/.exec(await stats.info('commandstats'))?.[1];
    stats.disconnect();
    console.log(`Redis check latency over 2000 sequential checks: p50 ${percentile(ms, 0.5).toFixed(3)} ms, p99 ${percentile(ms, 0.99).toFixed(3)} ms, max ${ms[ms.length - 1]!.toFixed(3)} ms; script time in Redis ${evalsha} µs per call`);
    expect(percentile(ms, 0.99)).toBeLessThan(50);
  });
});

describe('when Redis goes away', () => {
  const spec: LimitSpec = { inputPerUnit: 100, outputPerUnit: 100, unitMs: 3_600_000 };

  it('falls back (open) or refuses (closed) at once, logs once, and recovers by itself', async () => {
    const { log, lines } = captureLog();
    const states: boolean[] = [];
    const dropped: string[] = [];
    const rl = limiter({ log, onRedisState: (_a, up) => states.push(up), onChargeDropped: (a) => dropped.push(a) });
    const open = budget(spec, 'open');
    const closed = budget(spec, 'closed');
    expect(await rl.check(open, 10)).toMatchObject({ allowed: true, degraded: false });
    expect(await rl.check(closed, 10)).toMatchObject({ allowed: true, degraded: false });

    await redis.stop();
    // Right after the stop, before the client may even have noticed: a bounded answer either way.
    let t = performance.now();
    await expect(Promise.resolve().then(() => rl.check(closed, 10))).rejects.toMatchObject({ code: 'SLUICE_RATE_LIMIT_UNAVAILABLE' });
    const closedMs = performance.now() - t;
    expect(closedMs).toBeLessThan(TIMEOUT_MS + 100);
    await waitFor('the limiter to see Redis down', () => states.includes(false), 5_000);

    t = performance.now();
    let thrown: unknown;
    try {
      rl.check(closed, 10); // known down: thrown synchronously, no I/O
    } catch (err) {
      thrown = err;
    }
    expect(performance.now() - t).toBeLessThan(50);
    expect(thrown).toBeInstanceOf(SluiceError);
    expect((thrown as SluiceError).message).toBe(`the token limit of route ${closed.route} cannot be checked: its Redis ${redis.address} is unreachable and rateLimit.global.failureMode is closed (failureMode: open would use per-replica limits while Redis is down)`);

    // Open: a local bucket per key, so this replica alone still cannot exceed the whole limit.
    const first = rl.check(open, 60) as LimitDecision;
    expect(first).toMatchObject({ allowed: true, degraded: true, input: { remaining: 40 } });
    expect(rl.check(open, 60)).toMatchObject({ allowed: false, limitedBy: 'input', degraded: true });
    rl.charge(open, 0, 150); // goes to the local bucket
    expect(rl.check(open, 1)).toMatchObject({ allowed: false, limitedBy: 'output', degraded: true });
    rl.charge(closed, 5, 5);
    expect(dropped).toEqual([redis.address]);
    for (let i = 0; i < 50; i++) rl.check(open, 1);

    await redis.restart();
    const recovered = await waitFor('a check decided by Redis again', async () => {
      const d = await rl.check(open, 1);
      return d.degraded ? null : d;
    }, 10_000);
    expect(recovered.allowed).toBe(true); // the restarted Redis has no state: full bucket
    expect(await rl.check(closed, 10)).toMatchObject({ allowed: true, degraded: false });

    expect(states).toEqual([true, false, true]);
    expect(lines.filter((l) => l.msg.startsWith('rate-limit Redis unreachable'))).toHaveLength(1);
    expect(lines.filter((l) => l.msg.startsWith('rate-limit Redis reachable again'))).toHaveLength(1);
  });

  it('treats a hung Redis (SIGSTOP) as down after one command timeout, then recovers', async () => {
    const rl = limiter();
    const b = budget(spec, 'open');
    expect(await rl.check(b, 1)).toMatchObject({ degraded: false });
    const pid = redis.pid()!;
    process.kill(pid, 'SIGSTOP');
    try {
      let t = performance.now();
      expect(await rl.check(b, 1)).toMatchObject({ allowed: true, degraded: true });
      const hungMs = performance.now() - t;
      expect(hungMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(hungMs).toBeLessThan(TIMEOUT_MS + 150);
      // The timed-out connection was dropped: later checks fall back without waiting.
      t = performance.now();
      for (let i = 0; i < 20; i++) expect(await rl.check(b, 1)).toMatchObject({ degraded: true });
      expect(performance.now() - t).toBeLessThan(TIMEOUT_MS);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor('a check decided by Redis again', async () => !(await rl.check(b, 1)).degraded, 10_000);
  });

  it('waits at most the command timeout for a first connection that never comes', async () => {
    const nowhere = `127.0.0.1:${await freePort('127.0.0.1')}`;
    const rl = limiter();
    let t = performance.now();
    await expect(Promise.resolve().then(() => rl.check(budget(spec, 'closed', nowhere), 1))).rejects.toMatchObject({ code: 'SLUICE_RATE_LIMIT_UNAVAILABLE' });
    expect(performance.now() - t).toBeLessThan(TIMEOUT_MS + 100);
    t = performance.now();
    expect(await rl.check(budget(spec, 'open', nowhere), 1)).toMatchObject({ allowed: true, degraded: true });
    expect(performance.now() - t).toBeLessThan(TIMEOUT_MS + 100);
  });
});
