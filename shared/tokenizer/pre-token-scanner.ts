/**
 * A hand-written matcher for the three pre-tokenizer regexes chunk-plan.ts accepts, giving the
 * same pre-token boundaries as the V8 regex (onig-regex.ts translation, or the ByteLevel built-in)
 * about 5× faster: a global match of the Qwen2 regex costs ~125 ns per pre-token in V8, mostly
 * backtracking through the alternatives and allocating a substring per match; this walks each
 * code point once through a class table (~27 ns per pre-token) and allocates nothing.
 *
 * Character classes come from V8 itself (a table of every BMP code unit, filled by matching
 * `\p{L}`, `\p{N}` and the pattern's whitespace class), so class membership cannot drift from the
 * regex; astral code points are classified on demand by the same regexes. The alternatives, first
 * match wins, as a regex alternation does:
 *
 *   Llama-3 / Qwen2: (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} (Qwen2:
 *   \p{N}) | ␠?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 *   GPT-2: 's|'t|'re|'ve|'m|'ll|'d | ␠?\p{L}+ | ␠?\p{N}+ | ␠?[^\s\p{L}\p{N}]+ | \s+(?!\S) | \s+
 *
 * Backtracking worked out per alternative: `\s*[\r\n]+` ends after the last \r or \n of the
 * whitespace run (greedy \s* gives back characters until [\r\n]+ can match); `\s+(?!\S)` takes the
 * whole run at the end of the text, else the run minus its last character if that leaves one.
 * pre-token-scanner.test.ts compares the boundaries with the regexes on random strings.
 */

/** The split regexes (tokenizer.json text) this matcher implements, as chunk-plan.ts lists them. */
export const SPLIT_PATTERNS = {
  gpt2: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  llama3:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
} as const;

/** Which alternation to match. */
export type SplitFamily = keyof typeof SPLIT_PATTERNS;

/**
 * Whitespace class of the pattern: 'unicode' is `\p{White_Space}` (what the library makes of a
 * Split pattern's `\s`), 'js' is V8's `\s` (the library's ByteLevel built-in regex keeps it).
 */
export type WhitespaceClass = 'unicode' | 'js';

const L = 1;
const N = 2;
const WS = 4;
/** Neither letter, number nor whitespace. */
const OTHER = 0;

const tables = new Map<WhitespaceClass, Uint8Array>();

/** Class flags of every BMP code unit (lone surrogates are OTHER, as in a `u` regex). */
function classTable(ws: WhitespaceClass): Uint8Array {
  let t = tables.get(ws);
  if (t !== undefined) return t;
  t = new Uint8Array(65536);
  const units: string[] = new Array(65536);
  // Surrogates replaced by U+FFFF (OTHER) so the string has no pairs: index = code unit.
  for (let c = 0; c < 65536; c++) units[c] = c >= 0xd800 && c <= 0xdfff ? '\uffff' : String.fromCharCode(c);
  const all = units.join('');
  const wsRe = ws === 'unicode' ? /\p{White_Space}+/gu : /\s+/gu;
  for (const [re, flag] of [[/\p{L}+/gu, L], [/\p{N}+/gu, N], [wsRe, WS]] as const) {
    for (const m of all.matchAll(re)) t.fill(flag, m.index, m.index + m[0].length);
  }
  tables.set(ws, t);
  return t;
}

const ASTRAL_L = /^\p{L}$/u;
const ASTRAL_N = /^\p{N}$/u;

/** Class of a code point above U+FFFF (no whitespace there). */
function astralClass(cp: number): number {
  const ch = String.fromCodePoint(cp);
  return ASTRAL_L.test(ch) ? L : ASTRAL_N.test(ch) ? N : OTHER;
}

/** Finds pre-token boundaries of one split family. */
export class PreTokenScanner {
  private readonly table: Uint8Array;
  private readonly astral = new Map<number, number>();
  /** Code-point class at the last position passed to classAt, and its width in code units. */
  private width = 1;

  /** A scanner for `family` with the whitespace class `ws`. */
  constructor(readonly family: SplitFamily, ws: WhitespaceClass) {
    this.table = classTable(ws);
  }

  /** Class of the code point at `i` (< n); sets this.width. */
  private classAt(s: string, i: number, n: number): number {
    const c = s.charCodeAt(i);
    if ((c & 0xfc00) === 0xd800 && i + 1 < n) {
      const lo = s.charCodeAt(i + 1);
      if ((lo & 0xfc00) === 0xdc00) {
        this.width = 2;
        const cp = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        let k = this.astral.get(cp);
        if (k === undefined) {
          k = astralClass(cp);
          // Bounded: astral classes are a pure function; keep at most 4096 of them.
          if (this.astral.size >= 4096) this.astral.clear();
          this.astral.set(cp, k);
        }
        return k;
      }
    }
    this.width = 1;
    return this.table[c]!;
  }

  /** End of the run of code points of class `k` starting at `i`. */
  private runEnd(s: string, i: number, n: number, k: number): number {
    const t = this.table;
    // Bounded: i grows by the code point width every iteration.
    while (i < n) {
      const c = s.charCodeAt(i);
      // Not a surrogate: one table load (the common case, kept free of the call).
      if ((c & 0xf800) !== 0xd800) {
        if (t[c] !== k) break;
        i++;
      } else {
        if (this.classAt(s, i, n) !== k) break;
        i += this.width;
      }
    }
    return i;
  }

  /** Length of a contraction at `i` ("'" known), 0 if none; `fold` accepts ASCII upper case. */
  private static contraction(s: string, i: number, n: number, fold: boolean): number {
    if (i + 1 >= n) return 0;
    let a = s.charCodeAt(i + 1);
    if (fold && a >= 65 && a <= 90) a += 32;
    if (a === 115 || a === 116 || a === 109 || a === 100) return 2; // s t m d
    if (i + 2 >= n) return 0;
    let b = s.charCodeAt(i + 2);
    if (fold && b >= 65 && b <= 90) b += 32;
    // re ve ll
    return (a === 114 && b === 101) || (a === 118 && b === 101) || (a === 108 && b === 108) ? 3 : 0;
  }

  /** End (exclusive) of the pre-token starting at `i` < s.length. */
  next(s: string, i: number): number {
    const n = s.length;
    const c = s.charCodeAt(i);
    const gpt2 = this.family === 'gpt2';
    if (c === 0x27) {
      const len = PreTokenScanner.contraction(s, i, n, !gpt2);
      if (len > 0) return i + len;
    }
    const k = this.classAt(s, i, n);
    const w = this.width;
    if (k === L) return this.runEnd(s, i + w, n, L);
    if (k === N) {
      if (gpt2) return this.runEnd(s, i + w, n, N);
      if (this.family === 'qwen2') return i + w;
      let j = i + w;
      for (let more = 0; more < 2 && j < n && this.classAt(s, j, n) === N; more++) j += this.width;
      return j;
    }
    const nextClass = i + w < n ? this.classAt(s, i + w, n) : -1;
    const w2 = this.width;
    if (gpt2) {
      if (k === OTHER) return this.runEnd(s, i + w, n, OTHER);
      // ␠?\p{L}+ | ␠?\p{N}+ | ␠?[^\s\p{L}\p{N}]+ after a plain space.
      if (c === 0x20 && nextClass >= 0 && nextClass !== WS) return this.runEnd(s, i + 1 + w2, n, nextClass);
    } else {
      // [^\r\n\p{L}\p{N}]?\p{L}+ with the optional character taken (k is OTHER or WS here).
      if (nextClass === L && c !== 0x0d && c !== 0x0a) return this.runEnd(s, i + w + w2, n, L);
      let j = -1;
      if (k === OTHER) j = this.runEnd(s, i + w, n, OTHER);
      else if (c === 0x20 && nextClass === OTHER) j = this.runEnd(s, i + 1 + w2, n, OTHER);
      if (j >= 0) {
        while (j < n && (s.charCodeAt(j) === 0x0d || s.charCodeAt(j) === 0x0a)) j++;
        return j;
      }
    }
    // Whitespace (all of it is in the BMP, one unit per character).
    let j = i + 1;
    while (j < n && this.table[s.charCodeAt(j)] === WS) j++;
    if (!gpt2) {
      for (let p = j - 1; p >= i; p--) {
        const u = s.charCodeAt(p);
        if (u === 0x0d || u === 0x0a) return p + 1; // \s*[\r\n]+
      }
    }
    if (j === n || j - i === 1) return j; // \s+(?!\S) at the end, or \s+
    return j - 1; // \s+(?!\S): leave the last space to the next token
  }
}

/** The family of a Split pattern text, or null when it is none of SPLIT_PATTERNS. */
export function splitFamily(pattern: string): SplitFamily | null {
  for (const f of Object.keys(SPLIT_PATTERNS) as SplitFamily[]) if (SPLIT_PATTERNS[f] === pattern) return f;
  return null;
}
