import { jsonDeeperThan } from './json-depth';

const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('jsonDeeperThan', () => {
  it.each([
    ['flat object', '{"model":"m"}', 1, false],
    ['object in object at the limit', '{"a":{"b":1}}', 2, false],
    ['object in object over the limit', '{"a":{"b":1}}', 1, true],
    ['64 levels at limit 64', nested(64), 64, false],
    ['65 levels at limit 64', nested(65), 64, true],
    ['brackets inside a string do not count', `{"p":"${'['.repeat(500)}"}`, 1, false],
    ['an escaped quote does not end the string', `{"p":"\\"${'{'.repeat(100)}"}`, 1, false],
    ['an escaped backslash before the closing quote', `{"p":"\\\\","q":[[1]]}`, 2, true],
    ['10k levels', `{"model":"m","x":${nested(10_000)}}`, 64, true],
  ])('%s', (_name, text, limit, want) => {
    expect(jsonDeeperThan(Buffer.from(text), limit)).toBe(want);
  });
});
