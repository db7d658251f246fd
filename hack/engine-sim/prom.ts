/**
 * Minimal Prometheus text exposition (format 0.0.4): enough for gauges,
 * counters and cumulative histograms, without pulling in prom-client.
 */

/** Label set of one sample; insertion order is the output order. */
export type Labels = Record<string, string>;

/** A cumulative histogram with fixed upper bounds (seconds or counts). */
export class Histogram {
  /** counts[i] = observations <= bounds[i] (non-cumulative per bucket; cumulated on output). */
  private readonly counts: number[];
  private inf = 0;
  /** Sum of all observed values. */
  sum = 0;
  /** Number of observations. */
  count = 0;

  /** `bounds` must be strictly increasing; +Inf is implicit. */
  constructor(readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i] > bounds[i - 1])) throw new Error('histogram bounds must increase');
    }
    this.counts = bounds.map(() => 0);
  }

  /** Record one value. */
  observe(v: number): void {
    this.sum += v;
    this.count++;
    // Linear scan: bucket lists are short (<= ~100) and this runs per token.
    for (let i = 0; i < this.bounds.length; i++) {
      if (v <= this.bounds[i]) {
        this.counts[i]++;
        return;
      }
    }
    this.inf++;
  }

  /** Cumulative [le, count] pairs including +Inf. */
  cumulative(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    let acc = 0;
    this.bounds.forEach((b, i) => {
      acc += this.counts[i];
      out.push([formatNumber(b), acc]);
    });
    out.push(['+Inf', acc + this.inf]);
    return out;
  }
}

/** Number in exposition syntax (Go-style +Inf/-Inf/NaN; floats like 0.005 and 1.0). */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  // Prometheus' Python client prints whole bucket bounds as "1.0"; keep that look.
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

/** Escape a label value: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function renderLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Builds one exposition document; each metric family is written once with HELP and TYPE. */
export class Exposition {
  private readonly lines: string[] = [];
  private readonly seen = new Set<string>();

  private header(name: string, type: string, help: string): void {
    if (this.seen.has(name)) throw new Error(`metric family ${name} written twice`);
    this.seen.add(name);
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    this.lines.push(`# TYPE ${name} ${type}`);
  }

  /** Gauge family with one or more samples. */
  gauge(name: string, help: string, samples: Array<[Labels, number]>): this {
    this.header(name, 'gauge', help);
    for (const [l, v] of samples) this.lines.push(`${name}${renderLabels(l)} ${formatNumber(v)}`);
    return this;
  }

  /** Counter family; `name` is the full sample name (conventionally ending in _total). */
  counter(name: string, help: string, samples: Array<[Labels, number]>): this {
    this.header(name, 'counter', help);
    for (const [l, v] of samples) this.lines.push(`${name}${renderLabels(l)} ${formatNumber(v)}`);
    return this;
  }

  /** Histogram family: _bucket{le} lines (cumulative, ending in +Inf), _sum and _count. */
  histogram(name: string, help: string, samples: Array<[Labels, Histogram]>): this {
    this.header(name, 'histogram', help);
    for (const [l, h] of samples) {
      for (const [le, c] of h.cumulative()) {
        this.lines.push(`${name}_bucket${renderLabels({ ...l, le })} ${formatNumber(c)}`);
      }
      this.lines.push(`${name}_sum${renderLabels(l)} ${formatNumber(h.sum)}`);
      this.lines.push(`${name}_count${renderLabels(l)} ${formatNumber(h.count)}`);
    }
    return this;
  }

  /** The document, newline-terminated as the format requires. */
  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}
