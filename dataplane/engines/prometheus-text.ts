/**
 * A small parser of the Prometheus text exposition format (0.0.4), enough to read an engine's
 * /metrics body once a second without a dependency:
 *
 *   # HELP name text            (ignored)
 *   # TYPE name counter|gauge|histogram|summary|untyped
 *   name{label="value",...} 1.5e-3 [timestamp_ms]
 *
 * Label values may contain the escapes \\ \" \n; values may be floats, +Inf, -Inf or NaN.
 * A line it cannot read is skipped and counted, never fatal: one odd line from an engine
 * should not cost the router the whole scrape.
 *
 * Cost: the hot loop indexes into the body string; a sample line allocates its name, a label
 * object and one string per label value. Callers pass `only` (the names they read) so the
 * many lines they ignore, histogram buckets above all, cost one name slice and a Set lookup.
 */

/** One sample line. `labels` is read-only and may be shared between samples. */
export interface Sample {
  /** Sample name as written, e.g. `vllm:time_to_first_token_seconds_sum`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Optional timestamp (ms since epoch) at the end of the line; null when absent. */
  readonly timestampMs: number | null;
}

/** Samples of one exposition body, grouped by sample name in body order. */
export interface ParsedMetrics {
  readonly samples: ReadonlyMap<string, readonly Sample[]>;
  /** Family name → type, from `# TYPE` lines. */
  readonly types: ReadonlyMap<string, string>;
  /** Non-blank lines that could not be parsed (skipped). */
  readonly skipped: number;
}

/** Options of parsePrometheusText. */
export interface ParseOptions {
  /** Keep only samples with these names; others are not parsed beyond their name. */
  readonly only?: ReadonlySet<string>;
}

/** Shared by every sample without labels; frozen so no reader can change it for the others. */
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

const SPACE = 32;
const TAB = 9;
const HASH = 35;
const LBRACE = 123;
const RBRACE = 125;
const EQUALS = 61;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const CR = 13;

function isNameStart(c: number, colon: boolean): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (colon && c === 58);
}

function isNameChar(c: number, colon: boolean): boolean {
  return isNameStart(c, colon) || (c >= 48 && c <= 57);
}

/** A float as Go's strconv.ParseFloat reads it (what Prometheus writes), or undefined. */
export function parseFloatToken(tok: string): number | undefined {
  const v = Number(tok);
  if (!Number.isNaN(v)) return tok.length > 0 ? v : undefined;
  switch (tok.toLowerCase()) {
    case 'nan':
      return NaN;
    case 'inf':
    case '+inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    default:
      return undefined;
  }
}

/** Cursor over one line of the body; a class so the hot loop allocates no closures. */
class LineReader {
  text = '';
  i = 0;
  end = 0;

  skipWs(): void {
    while (this.i < this.end) {
      const c = this.text.charCodeAt(this.i);
      if (c !== SPACE && c !== TAB) return;
      this.i++;
    }
  }

  /** Reads a metric (colon allowed) or label name; returns '' when none starts here. */
  name(colon: boolean): string {
    const start = this.i;
    if (start >= this.end || !isNameStart(this.text.charCodeAt(start), colon)) return '';
    this.i++;
    while (this.i < this.end && isNameChar(this.text.charCodeAt(this.i), colon)) this.i++;
    return this.text.slice(start, this.i);
  }

  /** Reads up to the next blank. */
  token(): string {
    const start = this.i;
    while (this.i < this.end) {
      const c = this.text.charCodeAt(this.i);
      if (c === SPACE || c === TAB) break;
      this.i++;
    }
    return this.text.slice(start, this.i);
  }

  /** Reads `{a="x",b="y"}` starting at `{`; null when malformed. */
  labels(): Record<string, string> | null {
    const out = Object.create(null) as Record<string, string>;
    const text = this.text;
    this.i++; // '{'
    for (;;) {
      this.skipWs();
      if (this.i >= this.end) return null;
      if (text.charCodeAt(this.i) === RBRACE) {
        this.i++;
        return out;
      }
      const key = this.name(false);
      if (!key) return null;
      this.skipWs();
      if (text.charCodeAt(this.i) !== EQUALS) return null;
      this.i++;
      this.skipWs();
      if (text.charCodeAt(this.i) !== QUOTE) return null;
      this.i++;
      const value = this.quoted();
      if (value === null) return null;
      out[key] = value;
      this.skipWs();
      const c = text.charCodeAt(this.i);
      if (c === COMMA) this.i++;
      else if (c !== RBRACE) return null;
    }
  }

  /** Reads a label value after its opening quote, through the closing quote; null if unterminated. */
  private quoted(): string | null {
    const text = this.text;
    let start = this.i;
    // Most values have no escapes: then the value is one slice and no concatenation happens.
    let acc: string | null = null;
    while (this.i < this.end) {
      const c = text.charCodeAt(this.i);
      if (c === QUOTE) {
        const tail = text.slice(start, this.i);
        this.i++;
        return acc === null ? tail : acc + tail;
      }
      if (c === BACKSLASH) {
        if (this.i + 1 >= this.end) return null;
        const e = text.charCodeAt(this.i + 1);
        // The format defines only \\, \" and \n; anything else is kept as written.
        const rep = e === 110 ? '\n' : e === BACKSLASH ? '\\' : e === QUOTE ? '"' : text.slice(this.i, this.i + 2);
        acc = (acc ?? '') + text.slice(start, this.i) + rep;
        this.i += 2;
        start = this.i;
        continue;
      }
      this.i++;
    }
    return null;
  }
}

/** Parses an exposition body; see the file comment for what is accepted. */
export function parsePrometheusText(text: string, opts: ParseOptions = {}): ParsedMetrics {
  const only = opts.only;
  const samples = new Map<string, Sample[]>();
  const types = new Map<string, string>();
  let skipped = 0;
  const r = new LineReader();
  r.text = text;
  const n = text.length;
  let pos = 0;
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    r.i = pos;
    r.end = nl > pos && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
    pos = nl + 1;

    r.skipWs();
    if (r.i >= r.end) continue;
    if (text.charCodeAt(r.i) === HASH) {
      // Only TYPE lines carry anything we use; HELP and other comments are skipped unread.
      r.i++;
      r.skipWs();
      if (r.token() !== 'TYPE') continue;
      r.skipWs();
      const family = r.name(true);
      r.skipWs();
      const type = r.token();
      r.skipWs();
      if (!family || !type || r.i < r.end) skipped++;
      else types.set(family, type);
      continue;
    }

    const name = r.name(true);
    if (!name) {
      skipped++;
      continue;
    }
    if (only !== undefined && !only.has(name)) continue;
    let labels: Readonly<Record<string, string>> = NO_LABELS;
    const afterName = r.i;
    r.skipWs();
    if (r.i < r.end && text.charCodeAt(r.i) === LBRACE) {
      const parsed = r.labels();
      if (parsed === null) {
        skipped++;
        continue;
      }
      labels = parsed;
      r.skipWs();
    } else if (r.i === afterName) {
      // A name must end at a blank or `{`: `foo-bar 1` is not `foo` with value `-bar`.
      skipped++;
      continue;
    }
    const value = parseFloatToken(r.token());
    if (value === undefined) {
      skipped++;
      continue;
    }
    r.skipWs();
    let timestampMs: number | null = null;
    if (r.i < r.end) {
      const ts = Number(r.token());
      r.skipWs();
      if (!Number.isInteger(ts) || r.i < r.end) {
        skipped++;
        continue;
      }
      timestampMs = ts;
    }
    const sample: Sample = { name, labels, value, timestampMs };
    const list = samples.get(name);
    if (list) list.push(sample);
    else samples.set(name, [sample]);
  }
  return { samples, types, skipped };
}
