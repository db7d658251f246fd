import { FAIRNESS_DEFAULTS, QUEUE_DEFAULTS, type QueueConfig } from '../../shared/config/router-policy';
import { serverHasCapacity, type CapacityEndpoint } from './capacity';
import { FairQueue, type QueueOutcome, type QueueRelease, type QueueRequest } from './fair-queue';
import { flush, jain, ManualClock } from './test-support';
import { UsageWindow } from './usage-window';

/**
 * A queue in front of `slots` request slots. Queued requests are labelled; when one is released
 * its label is recorded, it takes a slot and (with autoClaim) claims at once, as the data plane does.
 */
function harness(config: Partial<QueueConfig> = {}, options: { slots?: number; autoClaim?: boolean } = {}) {
  const clock = new ManualClock(1_000_000);
  const usage = new UsageWindow(FAIRNESS_DEFAULTS, { now: clock.now });
  const state = { slots: options.slots ?? 0, inFlight: 0 };
  const outcomes: [QueueOutcome, number][] = [];
  const queue = new FairQueue({
    name: 'default/m',
    config: { ...QUEUE_DEFAULTS, ...config },
    usage,
    hasCapacity: (pending) => state.inFlight + pending < state.slots,
    observe: (outcome, waitMs) => outcomes.push([outcome, waitMs]),
    now: clock.now,
    timers: clock,
  });
  const released: string[] = [];
  const tickets = new Map<string, QueueRelease>();
  const errors = new Map<string, Error>();
  function enqueue(label: string, req: Partial<QueueRequest> = {}): Promise<QueueRelease> {
    const admitted = queue.admit({ user: label.replace(/\d+$/, ''), priority: 0, bytes: 1, estimatedInputTokens: 0, ...req });
    if (admitted === true) throw new Error(`${label} was not queued`);
    admitted.then((ticket) => {
      released.push(label);
      tickets.set(label, ticket);
      if (options.autoClaim ?? true) {
        state.inFlight++;
        ticket.claim();
      }
    }, (error: Error) => errors.set(label, error));
    return admitted;
  }
  /** Releases one request at a time until the queue is empty, finishing each before the next. */
  async function drainOneByOne(onFinish: (label: string) => void = () => {}): Promise<void> {
    state.slots = 1;
    while (queue.stats().queued > 0) {
      queue.pump();
      await flush();
      clock.advance(100);
      onFinish(released[released.length - 1]!);
      state.inFlight = 0;
    }
  }
  return { clock, usage, state, queue, outcomes, released, tickets, errors, enqueue, drainOneByOne };
}

describe('FairQueue release order', () => {
  it('lets a request through synchronously, without a Promise, when nothing waits and there is room', () => {
    const h = harness({}, { slots: 1 });
    const admitted = h.queue.admit({ user: 'alice', priority: 0, bytes: 10, estimatedInputTokens: 70 });
    expect(admitted).toBe(true);
    expect(h.usage.usage('alice')).toBe(70);
    expect(h.queue.stats().totals.immediate).toBe(1);
    expect(h.outcomes).toEqual([['immediate', 0]]);
  });

  it('queues behind waiting requests even when there is room, and releases the older one first', async () => {
    const h = harness();
    void h.enqueue('a1');
    h.state.slots = 1;
    void h.enqueue('b1'); // there is room now, but a1 waits: b1 queues and the pump releases a1
    await flush();
    expect(h.released).toEqual(['a1']);
    expect(h.queue.stats().queued).toBe(1);
  });

  it('is FIFO within one user', async () => {
    const h = harness();
    for (let i = 0; i < 6; i++) void h.enqueue(`alice${i}`, { estimatedInputTokens: 100 });
    await h.drainOneByOne();
    expect(h.released).toEqual(['alice0', 'alice1', 'alice2', 'alice3', 'alice4', 'alice5']);
  });

  it.each([
    ['the lowest usage first', { a: 300, b: 100, c: 200 }, ['a1', 'b1', 'c1'], ['b1', 'c1', 'a1']],
    ['ties to the oldest head', { a: 50, b: 50, c: 10 }, ['b1', 'a1', 'c1'], ['c1', 'b1', 'a1']],
    ['unknown users have zero usage', { a: 5 }, ['a1', 'z1'], ['z1', 'a1']],
  ])('picks %s', async (_name, prior, arrivals, expected) => {
    const h = harness();
    for (const [user, tokens] of Object.entries(prior)) h.usage.add(user, tokens, 0);
    for (const label of arrivals) void h.enqueue(label);
    await h.drainOneByOne();
    expect(h.released).toEqual(expected);
  });

  it('reads usage over the window: usage older than the window no longer counts', async () => {
    const h = harness();
    h.usage.add('a', 1000, 0);
    h.clock.advance(30_000);
    h.usage.add('b', 500, 0);
    h.clock.advance(31_000); // a's usage is 61 s old
    void h.enqueue('b1');
    void h.enqueue('a1');
    await h.drainOneByOne();
    expect(h.released).toEqual(['a1', 'b1']);
  });

  it('charges the estimate at release, so one pump does not release a heavy user again and again', async () => {
    const h = harness({}, { autoClaim: false });
    for (let i = 0; i < 3; i++) void h.enqueue(`heavy${i}`, { estimatedInputTokens: 100 });
    for (let i = 0; i < 3; i++) void h.enqueue(`light${i}`, { estimatedInputTokens: 100 });
    h.state.slots = 3;
    expect(h.queue.pump()).toBe(3);
    await flush();
    expect(h.released).toEqual(['heavy0', 'light0', 'heavy1']);
    expect(h.usage.usage('heavy')).toBe(200);
  });

  it('releases higher bands first, whatever the usage', async () => {
    const h = harness();
    h.usage.add('vip', 1_000_000, 0);
    void h.enqueue('low1', { priority: -5 });
    void h.enqueue('std1', { priority: 0 });
    void h.enqueue('vip1', { priority: 10 });
    void h.enqueue('std2', { priority: 0 });
    void h.enqueue('vip2', { priority: 10 });
    expect(h.queue.stats().bands).toEqual([{ priority: 10, queued: 2 }, { priority: 0, queued: 2 }, { priority: -5, queued: 1 }]);
    await h.drainOneByOne();
    expect(h.released).toEqual(['vip1', 'vip2', 'std1', 'std2', 'low1']);
    expect(h.queue.stats().bands).toEqual([]);
  });

  it('shares served tokens near-equally between a heavy user and light users (Jain ≥ 0.9), where FIFO would not', async () => {
    const h = harness();
    // Ten rounds; in each the heavy user sends 10 requests, each light user 1. Heavy requests are
    // twice as large, so token fairness means two light requests per heavy one.
    const lights = ['l1', 'l2', 'l3', 'l4', 'l5'];
    const size: Record<string, { input: number; output: number }> = { heavy: { input: 200, output: 100 } };
    for (const l of lights) size[l] = { input: 100, output: 50 };
    const arrivals: string[] = [];
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 10; i++) arrivals.push('heavy');
      arrivals.push(...lights);
    }
    arrivals.forEach((user, i) => void h.enqueue(`${user}#${i}`, { user, estimatedInputTokens: size[user]!.input }));
    const users = ['heavy', ...lights];
    const userOf = (label: string) => label.split('#')[0]!;
    await h.drainOneByOne((label) => {
      const s = size[userOf(label)]!;
      h.usage.settle(userOf(label), s.input, s.input, s.output); // real usage = estimate + output
    });
    expect(h.released).toHaveLength(arrivals.length);

    // Served tokens while every user is still backlogged: up to the release that empties a user's queue.
    const servedWhileBacklogged = (order: string[]): number[] => {
      const left = Object.fromEntries(users.map((u) => [u, arrivals.filter((a) => a === u).length]));
      const served = Object.fromEntries(users.map((u) => [u, 0]));
      for (const user of order) {
        served[user]! += size[user]!.input + size[user]!.output;
        if (--left[user]! === 0) break;
      }
      return users.map((u) => served[u]!);
    };
    const fair = servedWhileBacklogged(h.released.map(userOf));
    const fifo = servedWhileBacklogged(arrivals);
    expect(jain(fair)).toBeGreaterThanOrEqual(0.9);
    expect(jain(fifo)).toBeLessThan(0.5);
    // The light users were released interleaved with the heavy one, not after it.
    expect(h.released.slice(0, 11).map(userOf)).toEqual(['heavy', 'l1', 'l2', 'l3', 'l4', 'l5', 'l1', 'l2', 'l3', 'l4', 'l5']);
  });
});

describe('FairQueue capacity hand-over', () => {
  it('never releases more than the free slots in one pump, nor again before claims arrive', async () => {
    const h = harness({}, { autoClaim: false });
    for (let i = 0; i < 10; i++) void h.enqueue(`u${i}`);
    h.state.slots = 3;
    expect(h.queue.pump()).toBe(3);
    expect(h.queue.pump()).toBe(0);
    await flush(); // continuations ran, but nothing was counted in-flight or claimed yet
    expect(h.queue.pump()).toBe(0);
    expect(h.queue.stats().pending).toBe(3);
    for (const ticket of h.tickets.values()) {
      h.state.inFlight++;
      ticket.claim();
      ticket.claim(); // idempotent
    }
    expect(h.queue.stats().pending).toBe(0);
    expect(h.queue.pump()).toBe(0); // the 3 slots are in use
    h.state.inFlight = 1;
    expect(h.queue.pump()).toBe(2);
    await flush();
    expect(h.released).toHaveLength(5);
    expect(h.queue.stats()).toMatchObject({ queued: 5, pending: 2, totals: { released: 5 } });
  });

  it('fills every free slot of capped endpoints in one pump with serverHasCapacity', () => {
    const clock = new ManualClock();
    const endpoints: (CapacityEndpoint & { inFlight: number })[] = [
      { inFlight: 3, metrics: { waiting: 0, kvUsage: 0.1, stale: false } },
      { inFlight: 4, metrics: { waiting: 0, kvUsage: 0.1, stale: false } },
    ];
    const config = { ...QUEUE_DEFAULTS, maxInFlightPerEndpoint: 4 };
    const queue = new FairQueue({ name: 'default/m', config, usage: new UsageWindow(FAIRNESS_DEFAULTS, { now: clock.now }), hasCapacity: (p) => serverHasCapacity(endpoints, config, p), now: clock.now, timers: clock });
    const admit = () => queue.admit({ user: 'u', priority: 0, bytes: 1, estimatedInputTokens: 1 });
    // One free slot: the first request goes straight through and the caller counts it at once.
    expect(admit()).toBe(true);
    endpoints[0]!.inFlight++;
    const queued = Array.from({ length: 5 }, admit);
    expect(queued.every((r) => r instanceof Promise)).toBe(true);
    endpoints[1]!.inFlight = 0; // four slots free up
    expect(queue.pump()).toBe(4);
    expect(queue.stats()).toMatchObject({ queued: 1, pending: 4 });
  });

  it('stops counting a release that is never claimed after claimTimeoutMs', () => {
    const clock = new ManualClock();
    let inFlight = 1;
    const queue = new FairQueue({ name: 'default/m', config: QUEUE_DEFAULTS, usage: new UsageWindow(FAIRNESS_DEFAULTS, { now: clock.now }), hasCapacity: (p) => inFlight + p < 1, now: clock.now, timers: clock, claimTimeoutMs: 1000 });
    const first = queue.admit({ user: 'u', priority: 0, bytes: 1, estimatedInputTokens: 1 });
    const second = queue.admit({ user: 'u', priority: 0, bytes: 1, estimatedInputTokens: 1 });
    expect([first, second].every((r) => r instanceof Promise)).toBe(true);
    inFlight = 0;
    expect(queue.pump()).toBe(1); // first released and (by a caller bug) never claimed
    clock.advance(999);
    expect(queue.pump()).toBe(0);
    clock.advance(1);
    expect(queue.pump()).toBe(1);
    expect(queue.stats().expiredClaims).toBe(1);
  });

  it('tells each release how long it waited, in the ticket and to the observer', async () => {
    const h = harness();
    void h.enqueue('a1');
    h.clock.advance(250);
    void h.enqueue('b1');
    h.clock.advance(750);
    h.state.slots = 2;
    h.queue.pump();
    await flush();
    expect([h.tickets.get('a1')!.waitMs, h.tickets.get('b1')!.waitMs]).toEqual([1000, 750]);
    expect(h.outcomes).toEqual([['released', 1000], ['released', 750]]);
    expect(h.queue.stats()).toMatchObject({ queued: 0, bytes: 0, users: 0, oldestWaitMs: 0, totals: { released: 2 } });
  });
});
