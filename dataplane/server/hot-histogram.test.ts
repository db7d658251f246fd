import { Histogram, Registry } from 'prom-client';
import { HotHistogram } from './hot-histogram';

const BUCKETS = [0.001, 0.01, 0.1, 1];

describe('HotHistogram', () => {
  it.each([
    ['one per bucket and one above the last', [0.0005, 0.005, 0.05, 0.5, 5]],
    ['values on a bound fall in that bucket', [0.001, 0.01, 0.01, 1]],
    ['zero and repeated values', [0, 0, 0.2, 0.2, 0.2]],
  ])('renders as prom-client renders its own histogram: %s', async (_name, values) => {
    const ours = new Registry();
    const theirs = new Registry();
    const hot = new HotHistogram('x_seconds', 'help text', ['server'], BUCKETS, ours);
    const ref = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['server'], buckets: BUCKETS, registers: [theirs] });
    const child = hot.labels('ns/a');
    const refChild = ref.labels('ns/a');
    for (const v of values) {
      child.observe(v);
      refChild.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('keeps one child per label values and drops non-finite values', async () => {
    const reg = new Registry();
    const hot = new HotHistogram('y_seconds', 'h', ['route', 'server'], BUCKETS, reg);
    expect(hot.labels('r', 's')).toBe(hot.labels('r', 's'));
    hot.labels('r', 's').observe(Number.NaN);
    hot.labels('r', 's').observe(Number.POSITIVE_INFINITY);
    hot.labels('r', 's').observe(0.02);
    const text = await reg.metrics();
    expect(text).toContain('y_seconds_count{route="r",server="s"} 1');
    expect(text).toContain('y_seconds_bucket{le="0.01",route="r",server="s"} 0');
    expect(() => hot.labels('r')).toThrow(/2 label values/);
  });

  it('shows a bound child at zero before its first observation', async () => {
    const reg = new Registry();
    new HotHistogram('w_seconds', 'h', ['server'], BUCKETS, reg).labels('s');
    expect(await reg.metrics()).toContain('w_seconds_count{server="s"} 0');
  });

  it('refuses buckets that do not increase', () => {
    expect(() => new HotHistogram('z', 'h', [], [0.1, 0.1], new Registry())).toThrow(/increase/);
  });
});
