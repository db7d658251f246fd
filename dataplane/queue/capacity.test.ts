import { freeSlots, serverHasCapacity, type CapacityEndpoint } from './capacity';

function ep(inFlight: number, waiting = 0, kvUsage = 0, stale = false): CapacityEndpoint {
  return { inFlight, metrics: { waiting, kvUsage, stale } };
}

describe('freeSlots', () => {
  it.each([
    ['idle, no cap', ep(0), undefined, 1],
    ['busy, no cap: metrics alone decide', ep(50), undefined, 1],
    ['5 waiting is not saturated (above 5 is)', ep(0, 5), undefined, 1],
    ['6 waiting', ep(0, 6), undefined, 0],
    ['KV 0.8 is not saturated (above is)', ep(0, 0, 0.8), undefined, 1],
    ['KV 0.81', ep(0, 0, 0.81), undefined, 0],
    ['stale metrics never saturate', ep(0, 100, 1, true), undefined, 1],
    ['under the cap', ep(3, 0, 0), 8, 5],
    ['at the cap', ep(8), 8, 0],
    ['over the cap (cap lowered live)', ep(12), 8, 0],
    ['under the cap but saturated', ep(1, 9), 8, 0],
    ['stale, capped', ep(6, 100, 1, true), 8, 2],
  ])('%s', (_name, endpoint, cap, expected) => {
    expect(freeSlots(endpoint, cap)).toBe(expected);
  });
});

describe('serverHasCapacity', () => {
  it.each([
    ['no endpoints', [], undefined, 0, false],
    ['one free endpoint, nothing pending', [ep(0)], undefined, 0, true],
    ['one free endpoint, one pending', [ep(0)], undefined, 1, false],
    ['two unsaturated, one pending', [ep(0), ep(9)], undefined, 1, true],
    ['all saturated', [ep(0, 9), ep(0, 0, 0.95)], undefined, 0, false],
    ['capped: 3 + 1 free slots, 3 pending', [ep(5, 0, 0, false), ep(7)], 8, 3, true],
    ['capped: 3 + 1 free slots, 4 pending', [ep(5), ep(7)], 8, 4, false],
    ['capped: all at the cap', [ep(8), ep(8)], 8, 0, false],
  ])('%s', (_name, endpoints, maxInFlightPerEndpoint, pending, expected) => {
    const config = maxInFlightPerEndpoint === undefined ? {} : { maxInFlightPerEndpoint };
    expect(serverHasCapacity(endpoints, config, pending)).toBe(expected);
  });
});
