/**
 * A small checker for Prometheus text exposition (format 0.0.4), used by the
 * simulator's tests and usable by anyone who wants to assert that a /metrics
 * body parses. It checks the line grammar, that every sample belongs to a
 * family declared with `# TYPE` before it, that TYPE appears once per family,
 * and that histograms have cumulative buckets ending in le="+Inf" equal to
 * their _count.
 */

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '(?:[+-]?(?:\\d+\\.?\\d*(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)|NaN|[+-]Inf)';
const SAMPLE_RE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const HELP_RE = new RegExp(`^# HELP (${NAME})(?: .*)?$`);
const LABEL_PAIR_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g;

/** One parsed sample line. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** Parse sample lines (comments skipped); throws on a line that is not a sample. */
export function parseSamples(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_RE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(LABEL_PAIR_RE)) labels[lm[1]] = lm[2];
    out.push({ name: m[1], labels, value: parseValue(m[3]) });
  }
  return out;
}

/** Family a sample belongs to given declared types (histogram suffixes stripped). */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return undefined;
}

/** Problems found in an exposition body; an empty array means it is valid. */
export function lintExposition(text: string): string[] {
  const errors: string[] = [];
  if (!text.endsWith('\n')) errors.push('body must end with a newline');
  const types = new Map<string, string>();
  // Per histogram series (family + labels without le): last bucket count, +Inf count, _count.
  const hist = new Map<string, { last: number; inf?: number; count?: number }>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line === '') {
      if (i !== lines.length - 1) errors.push(`${where}: empty line`);
      return;
    }
    if (line.startsWith('#')) {
      const t = TYPE_RE.exec(line);
      if (t) {
        if (types.has(t[1])) errors.push(`${where}: second TYPE for ${t[1]}`);
        types.set(t[1], t[2]);
      } else if (line.startsWith('# TYPE') || (line.startsWith('# HELP') && !HELP_RE.test(line))) {
        errors.push(`${where}: malformed ${line.slice(2, 6)} line`);
      }
      return;
    }
    const m = SAMPLE_RE.exec(line);
    if (!m) {
      errors.push(`${where}: not a valid sample: ${line}`);
      return;
    }
    const family = familyOf(m[1], types);
    if (family === undefined) {
      errors.push(`${where}: sample ${m[1]} has no preceding TYPE`);
      return;
    }
    if (types.get(family) !== 'histogram') return;
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(LABEL_PAIR_RE)) labels[lm[1]] = lm[2];
    const le = labels.le;
    delete labels.le;
    const key = `${family}${JSON.stringify(labels)}`;
    const h = hist.get(key) ?? { last: 0 };
    hist.set(key, h);
    const v = parseValue(m[3]);
    if (m[1].endsWith('_bucket')) {
      if (le === undefined) errors.push(`${where}: bucket without le`);
      if (v < h.last) errors.push(`${where}: buckets of ${family} not cumulative`);
      h.last = v;
      if (le === '+Inf') h.inf = v;
    } else if (m[1].endsWith('_count')) {
      h.count = v;
    }
  });
  for (const [key, h] of hist) {
    if (h.inf === undefined) errors.push(`${key}: histogram without le="+Inf" bucket`);
    else if (h.count !== undefined && h.count !== h.inf) errors.push(`${key}: _count != +Inf bucket`);
  }
  return errors;
}
