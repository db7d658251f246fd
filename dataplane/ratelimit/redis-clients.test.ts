import { parseAddress, reconnectDelayMs } from './redis-clients';

describe('parseAddress', () => {
  it.each([
    ['redis.sluice-system:6379', 'redis.sluice-system', 6379],
    ['127.0.0.1:7000', '127.0.0.1', 7000],
    ['redis', 'redis', 6379],
    ['[::1]:6380', '::1', 6380],
    ['[fd00::5]', 'fd00::5', 6379],
  ])('%s → %s port %d', (address, host, port) => {
    expect(parseAddress(address)).toEqual({ host, port });
  });
});

describe('reconnectDelayMs', () => {
  it.each([[1, 50], [2, 100], [3, 200], [5, 800], [6, 1_000], [1_000, 1_000]])('attempt %d waits %d ms', (attempt, ms) => {
    expect(reconnectDelayMs(attempt)).toBe(ms);
  });
});
