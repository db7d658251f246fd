import { FAIRNESS_DEFAULTS, QUEUE_DEFAULTS, type QueueConfig } from '../../shared/config/router-policy';
import { SluiceError } from '../../shared/errors/codes';
import { FairQueue, QueueCancelledError, type QueueRelease, type QueueRequest } from './fair-queue';
import { flush, ManualClock } from './test-support';
import { UsageWindow } from './usage-window';

/** A queue with no room until `state.slots` is raised; settled promises are recorded by label. */
function harness(config: Partial<QueueConfig> = {}) {
  const clock = new ManualClock(5_000);
  const state = { slots: 0, inFlight: 0 };
  let current: QueueConfig = { ...QUEUE_DEFAULTS, ...config };
  const queue = new FairQueue({
    name: 'default/m',
    config: current,
    usage: new UsageWindow(FAIRNESS_DEFAULTS, { now: clock.now }),
    hasCapacity: (pending) => state.inFlight + pending < (current.maxInFlightPerEndpoint ?? state.slots),
    now: clock.now,
    timers: clock,
  });
  const released: string[] = [];
  const failed = new Map<string, Error>();
  function enqueue(label: string, req: Partial<QueueRequest> = {}): Promise<QueueRelease> {
    const admitted = queue.admit({ user: label, priority: 0, bytes: 1, estimatedInputTokens: 0, ...req });
    if (admitted === true) throw new Error(`${label} was not queued`);
    admitted.then((ticket) => {
      released.push(label);
      state.inFlight++;
      ticket.claim();
    }, (error: Error) => failed.set(label, error));
    return admitted;
  }
  const reconfigure = (next: Partial<QueueConfig>) => {
    current = { ...current, ...next };
    queue.configure(current);
  };
  const codes = () => Object.fromEntries([...failed].map(([label, e]) => [label, e instanceof SluiceError ? e.code : e.name]));
  return { clock, state, queue, released, failed, enqueue, reconfigure, codes };
}

describe('FairQueue bounds', () => {
  it.each([
    ['bytes: the oldest makes room', { maxBytes: 100 }, [40, 40, 40], ['r0']],
    ['bytes: as many of the oldest as needed', { maxBytes: 100 }, [10, 10, 10, 95], ['r0', 'r1', 'r2']],
    ['bytes: exactly full is fine', { maxBytes: 100 }, [50, 50], []],
    ['count: the oldest makes room', { maxRequests: 3 }, [1, 1, 1, 1, 1], ['r0', 'r1']],
  ])('%s', async (_name, config, sizes, dropped) => {
    const h = harness(config);
    sizes.forEach((bytes, i) => void h.enqueue(`r${i}`, { bytes }));
    await flush();
    expect(Object.keys(h.codes())).toEqual(dropped);
    expect(Object.values(h.codes()).every((code) => code === 'SLUICE_QUEUE_FULL')).toBe(true);
    const kept = sizes.filter((_b, i) => !dropped.includes(`r${i}`));
    expect(h.queue.stats()).toMatchObject({ queued: kept.length, bytes: kept.reduce((a, b) => a + b, 0), totals: { dropped: dropped.length } });
  });

  it('drops the oldest whatever its band or user', async () => {
    const h = harness({ maxRequests: 2 });
    void h.enqueue('vip', { priority: 50 });
    void h.enqueue('std', { priority: 0 });
    void h.enqueue('new', { priority: -10 });
    await flush();
    expect(h.codes()).toEqual({ vip: 'SLUICE_QUEUE_FULL' });
  });

  it('refuses at once a body larger than the whole queue, leaving the queue as it was', async () => {
    const h = harness({ maxBytes: 100 });
    void h.enqueue('small', { bytes: 60 });
    await expect(h.enqueue('huge', { bytes: 101 })).rejects.toMatchObject({ code: 'SLUICE_QUEUE_FULL', message: expect.stringContaining('101 bytes') });
    expect(h.queue.stats()).toMatchObject({ queued: 1, bytes: 60, totals: { rejected: 1, dropped: 0 } });
  });
});

describe('FairQueue TTL', () => {
  it('expires requests in arrival order with one timer', async () => {
    const h = harness({ ttlMs: 1000 });
    void h.enqueue('a');
    h.clock.advance(400);
    for (let i = 0; i < 50; i++) void h.enqueue(`b${i}`);
    expect(h.clock.pendingTimers).toBe(1);
    h.clock.advance(599);
    await flush();
    expect(h.failed.size).toBe(0);
    h.clock.advance(1);
    await flush();
    expect(h.codes()).toEqual({ a: 'SLUICE_QUEUE_TIMEOUT' });
    expect(h.failed.get('a')!.message).toContain('1000 ms');
    expect(h.clock.pendingTimers).toBe(1); // re-armed for the b's
    h.clock.advance(400);
    await flush();
    expect(h.failed.size).toBe(51);
    expect(h.queue.stats()).toMatchObject({ queued: 0, totals: { timed_out: 51 } });
    expect(h.clock.pendingTimers).toBe(0);
  });

  it('does not release a request whose TTL passed before the pump came', async () => {
    const h = harness({ ttlMs: 1000 });
    void h.enqueue('a');
    h.state.slots = 1;
    h.clock.skip(1500); // a blocked event loop: the deadline passes, the timer has not fired yet
    expect(h.queue.pump()).toBe(0);
    await flush();
    expect(h.codes()).toEqual({ a: 'SLUICE_QUEUE_TIMEOUT' });
  });

  it('works on Node timers by default', async () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const queue = new FairQueue({ name: 'default/m', config: { ...QUEUE_DEFAULTS, ttlMs: 2000 }, usage: new UsageWindow(FAIRNESS_DEFAULTS), hasCapacity: () => false });
      const admitted = queue.admit({ user: 'u', priority: 0, bytes: 1, estimatedInputTokens: 0 }) as Promise<QueueRelease>;
      const outcome = admitted.catch((e: SluiceError) => e.code);
      expect(jest.getTimerCount()).toBe(1);
      jest.advanceTimersByTime(2000);
      await expect(outcome).resolves.toBe('SLUICE_QUEUE_TIMEOUT');
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('FairQueue disconnects', () => {
  it('removes a request at once when its client goes away, and releases the next one instead', async () => {
    const h = harness();
    const client = new AbortController();
    void h.enqueue('gone', { bytes: 30, signal: client.signal });
    void h.enqueue('next', { bytes: 5 });
    h.clock.advance(120);
    client.abort();
    expect(h.queue.stats()).toMatchObject({ queued: 1, bytes: 5, totals: { cancelled: 1 } });
    await flush();
    const error = h.failed.get('gone')!;
    expect(error).toBeInstanceOf(QueueCancelledError);
    expect(error.name).toBe('AbortError');
    expect((error as QueueCancelledError).waitMs).toBe(120);
    h.state.slots = 1;
    expect(h.queue.pump()).toBe(1);
    await flush();
    expect(h.released).toEqual(['next']);
  });

  it('refuses a request whose client is already gone', async () => {
    const h = harness();
    const client = new AbortController();
    client.abort();
    await expect(h.enqueue('gone', { signal: client.signal })).rejects.toBeInstanceOf(QueueCancelledError);
    expect(h.queue.stats().queued).toBe(0);
  });

  it('ignores a disconnect after release (the forwarder handles that one)', async () => {
    const h = harness();
    const client = new AbortController();
    void h.enqueue('a', { signal: client.signal });
    h.state.slots = 1;
    h.queue.pump();
    client.abort();
    await flush();
    expect(h.released).toEqual(['a']);
    expect(h.queue.stats().totals).toMatchObject({ released: 1, cancelled: 0 });
  });
});

describe('FairQueue configure and close', () => {
  it('applies new bounds live: drops the oldest beyond a smaller bound', async () => {
    const h = harness();
    for (let i = 0; i < 5; i++) void h.enqueue(`r${i}`, { bytes: 10 });
    h.reconfigure({ maxRequests: 4, maxBytes: 30 });
    await flush();
    expect(Object.keys(h.codes())).toEqual(['r0', 'r1']);
    expect(h.queue.stats()).toMatchObject({ queued: 3, bytes: 30 });
  });

  it('applies a shorter TTL live: expires the overdue at once and re-arms for the rest', async () => {
    const h = harness({ ttlMs: 30_000 });
    void h.enqueue('old');
    h.clock.advance(8000);
    void h.enqueue('young');
    h.clock.advance(2000);
    h.reconfigure({ ttlMs: 5000 });
    await flush();
    expect(h.codes()).toEqual({ old: 'SLUICE_QUEUE_TIMEOUT' });
    h.clock.advance(2999);
    await flush();
    expect(h.failed.has('young')).toBe(false);
    h.clock.advance(1);
    await flush();
    expect(h.failed.has('young')).toBe(true);
  });

  it('pumps after a change that may add capacity', async () => {
    const h = harness();
    void h.enqueue('a');
    void h.enqueue('b');
    h.reconfigure({ maxInFlightPerEndpoint: 2 });
    await flush();
    expect(h.released).toEqual(['a', 'b']);
  });

  it('close rejects everything queued, clears the timer and refuses later requests', async () => {
    const h = harness();
    void h.enqueue('a');
    void h.enqueue('b');
    h.queue.close();
    h.queue.close(); // idempotent
    await flush();
    expect(h.codes()).toEqual({ a: 'SLUICE_NO_ENDPOINTS', b: 'SLUICE_NO_ENDPOINTS' });
    expect(h.failed.get('a')!.message).toContain('shutting down');
    expect(h.clock.pendingTimers).toBe(0);
    h.state.slots = 10;
    await expect(h.queue.admit({ user: 'c', priority: 0, bytes: 1, estimatedInputTokens: 0 })).rejects.toMatchObject({ code: 'SLUICE_NO_ENDPOINTS' });
    expect(h.queue.pump()).toBe(0);
    expect(h.queue.stats().totals.closed).toBe(3);
  });

  it('close takes the error to reject with', async () => {
    const h = harness();
    const removed = new SluiceError('SLUICE_TARGET_UNRESOLVED', 'ModelServer default/m was deleted');
    const pending = h.enqueue('a');
    h.queue.close(removed);
    await expect(pending).rejects.toBe(removed);
  });
});
