/**
 * A Prometheus histogram for observations made per streamed chunk. prom-client's bound children
 * still build a label object and a hash string on every `observe()`; here a bound child is a
 * Float64Array of bucket counts plus a sum, so observing allocates nothing. The text exposition is
 * built at scrape time, in the same shape prom-client gives its own histograms (cumulative
 * `_bucket` series with `le`, then `_sum` and `_count`), and the object registers in a prom-client
 * Registry like any metric. Unlike prom-client, a child shows (at zero) from the moment it is bound.
 */
import type { Registry } from 'prom-client';

/** One label combination: observe() is the hot-path call. */
export class HotHistogramChild {
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;

  constructor(private readonly bounds: readonly number[], readonly labels: Readonly<Record<string, string>>) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Counts one observation, in seconds. Non-finite values are dropped (prom-client throws). */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
  }
}

/** One sample line, as prom-client's Registry renders it. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** A histogram family whose children observe without allocating. */
export class HotHistogram {
  readonly type = 'histogram';
  /** prom-client's Registry reads this when it merges registries; unused here. */
  readonly aggregator = 'sum';
  private readonly children = new Map<string, HotHistogramChild>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw new Error(`${name}: buckets must increase`);
    }
    registry.registerMetric(this as never);
  }

  /** The child for these label values (one per label name, in order), created on first use. */
  labels(...values: string[]): HotHistogramChild {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name} takes ${this.labelNames.length} label values, got ${values.length}`);
    const key = values.join('\u0000');
    let c = this.children.get(key);
    if (!c) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => { labels[n] = values[i]!; });
      this.children.set(key, (c = new HotHistogramChild(this.buckets, labels)));
    }
    return c;
  }

  /** Forgets every child (prom-client's Registry.resetMetrics calls this). */
  reset(): void {
    this.children.clear();
  }

  /** The samples, for the Registry: cumulative buckets, +Inf, sum and count per child. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = [];
    for (const c of this.children.values()) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += c.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: this.buckets[i]!, ...c.labels }, value: acc });
      }
      acc += c.counts[this.buckets.length]!;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...c.labels }, value: acc });
      values.push({ metricName: `${this.name}_sum`, labels: { ...c.labels }, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...c.labels }, value: acc });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
