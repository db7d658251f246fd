import { loadAllBounded, loadBounded, YAML_LIMITS, YamlError } from './bounded-yaml';

/** The classic billion laughs: 9 levels of 9 aliases, 9^9 leaves once expanded. */
function aliasBomb(levels = 9): string {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}

describe('bounded YAML', () => {
  it('parses ordinary Kubernetes YAML, anchors included', () => {
    const text = 'base: &b {app: x, tier: y}\none: {labels: *b}\ntwo: {labels: *b}\n';
    expect(loadBounded(text)).toEqual({ base: { app: 'x', tier: 'y' }, one: { labels: { app: 'x', tier: 'y' } }, two: { labels: { app: 'x', tier: 'y' } } });
  });

  it('refuses an alias bomb quickly, without expanding it', () => {
    const t0 = Date.now();
    expect(() => loadBounded(aliasBomb())).toThrow(YamlError);
    expect(() => loadBounded(aliasBomb())).toThrow(/more than (200000 values|1000 times)/);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it.each([
    ['too many values', 'x: [' + Array.from({ length: 40 }, (_, i) => String(i)).join(',') + ']\n', { ...YAML_LIMITS, maxNodes: 20 }, /more than 20 values/],
    ['too many aliases', 'a: &a [1]\nb: [*a, *a, *a, *a]\n', { ...YAML_LIMITS, maxAliases: 3 }, /more than 3 times/],
    ['too long', 'x: 1\n'.repeat(10), { ...YAML_LIMITS, maxChars: 20 }, /the limit is 20/],
    ['too deep', `${'['.repeat(70)}${']'.repeat(70)}`, YAML_LIMITS, /maxDepth/],
  ])('refuses %s', (_name, text, limits, message) => {
    expect(() => loadBounded(text, limits)).toThrow(message);
  });

  it('names the document of a multi-document text that is refused, and the line of a syntax error', () => {
    expect(() => loadAllBounded(`a: 1\n---\n${aliasBomb()}`)).toThrow(/document 2/);
    try {
      loadAllBounded('a: 1\nb: [\n');
      throw new Error('expected a syntax error');
    } catch (err) {
      expect((err as YamlError).message).toMatch(/^not valid YAML at line \d+, column \d+/);
      expect((err as YamlError).line).toBeGreaterThan(0);
    }
  });
});
