import { createLogger } from '../../shared/log/logger';
import { EventRecorder, microTime, type EventLimits } from './event-recorder';
import { FakeKubeClient } from './fake-kube-client';

const log = createLogger('test', 'silent');
const ROUTE = { apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelRoute', namespace: 'ns', name: 'r', uid: 'u-1' };
const EVENTS = '/apis/events.k8s.io/v1/namespaces/ns/events';
const LIMITS: EventLimits = { burst: 3, refillMs: 60_000, dedupWindowMs: 600_000 };

function setup() {
  let now = Date.parse('2026-01-01T00:00:00.000Z');
  const fake = new FakeKubeClient().on('POST', EVENTS, { body: {} }).on('PATCH', /\/events\/r\.[0-9a-f]+$/, { body: {} });
  const rec = new EventRecorder(fake, log, 'op-0', LIMITS, () => now);
  return { fake, rec, advance: (ms: number) => { now += ms; } };
}

it('microTime has six fractional digits', () => {
  expect(microTime(Date.parse('2026-01-01T00:00:00.123Z'))).toBe('2026-01-01T00:00:00.123000Z');
});

it('creates an events.k8s.io/v1 Event regarding the object', async () => {
  const { fake, rec } = setup();
  await rec.record(ROUTE, 'Warning', 'Refused', 'Validate', 'generation 2 refused: x');
  expect(fake.calls).toHaveLength(1);
  expect(fake.calls[0]).toMatchObject({ method: 'POST', path: EVENTS, body: {
    apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: expect.stringMatching(/^r\.[0-9a-f]+$/), namespace: 'ns' }, eventTime: '2026-01-01T00:00:00.000000Z',
    reportingController: 'sluice.dev/operator', reportingInstance: 'op-0', action: 'Validate', reason: 'Refused', type: 'Warning', note: 'generation 2 refused: x',
    regarding: { apiVersion: ROUTE.apiVersion, kind: 'ModelRoute', namespace: 'ns', name: 'r', uid: 'u-1' },
  } });
});

it('counts a repeat within the window in the first Event\'s series, and starts a new Event after it', async () => {
  const { fake, rec, advance } = setup();
  await rec.record(ROUTE, 'Warning', 'Refused', 'Validate', 'same');
  advance(60_000);
  await rec.record(ROUTE, 'Warning', 'Refused', 'Validate', 'same');
  const first = (fake.calls[0]!.body as { metadata: { name: string } }).metadata.name;
  expect(fake.calls[1]).toMatchObject({ method: 'PATCH', path: `${EVENTS}/${first}`, body: { series: { count: 2, lastObservedTime: '2026-01-01T00:01:00.000000Z' } } });
  advance(600_000);
  await rec.record(ROUTE, 'Warning', 'Refused', 'Validate', 'same');
  expect(fake.calls[2]).toMatchObject({ method: 'POST' });
});

it('lets a flapping object send `burst` events, then one per refill period', async () => {
  const { fake, rec, advance } = setup();
  for (let i = 0; i < 20; i++) await rec.record(ROUTE, 'Normal', 'Programmed', 'Program', `generation ${i}`);
  expect(fake.calls).toHaveLength(3);
  advance(30_000);
  await rec.record(ROUTE, 'Normal', 'Programmed', 'Program', 'half a period later');
  expect(fake.calls).toHaveLength(3);
  advance(30_000);
  await rec.record(ROUTE, 'Normal', 'Programmed', 'Program', 'a full period later');
  expect(fake.calls).toHaveLength(4);
  // Another object has its own bucket.
  await rec.record({ ...ROUTE, name: 'other' }, 'Normal', 'Programmed', 'Program', 'x');
  expect(fake.calls).toHaveLength(5);
});

it('never throws when the API server refuses the Event', async () => {
  const rec = new EventRecorder(new FakeKubeClient().on('POST', EVENTS, { status: 403, reason: 'Forbidden' }), log, 'op-0', LIMITS);
  await expect(rec.record(ROUTE, 'Warning', 'Refused', 'Validate', 'x')).resolves.toBeUndefined();
});
