/**
 * Translates a pre-tokenizer Split pattern from tokenizer.json (Oniguruma syntax, as the Rust
 * `tokenizers` crate compiles it) into a V8 RegExp with the meaning @huggingface/tokenizers gives
 * it, for the subset that GPT-2, Llama-3 and Qwen2 style splits use. Anything outside that subset
 * is refused with a reason rather than guessed at, so a caller falls back to the library.
 *
 * Rewrites, each the library's (our reference) reading of Oniguruma:
 *   - `\s` / `\S` become `\p{White_Space}` / `\P{White_Space}`: V8's `\s` also takes U+FEFF and
 *     misses U+0085, Oniguruma's Unicode `\s` is the White_Space property;
 *   - `\d` / `\D` become `\p{Nd}` / `\P{Nd}`;
 *   - `(?i:...)` (inline flags, which Node 20's V8 does not parse) becomes `(?:...)` with every
 *     ASCII letter outside a class written as `[xX]`. Like the library this folds ASCII only;
 *     Oniguruma's full Unicode folding may also let `s` match U+017F (ſ) and `k` U+212A (K), so
 *     `'ſx` could split differently in vLLM. Classes inside `(?i:...)` are refused;
 *   - `\p{..}` / `\P{..}` are kept when V8 knows the name in `u` mode, refused otherwise.
 * Refused: `\w \b \A \z \G`, back-references, possessive quantifiers, nested classes, `&&`,
 * anchors, other inline flags.
 */

/** The translation, or why the pattern is outside the subset. */
export type OnigTranslation = { ok: true; source: string; re: RegExp } | { ok: false; reason: string };

const SIMPLE_ESCAPES: Record<string, string> = { r: '\\r', n: '\\n', t: '\\t', f: '\\f', v: '\\v' };
const SHORTHANDS: Record<string, string> = {
  s: '\\p{White_Space}', S: '\\P{White_Space}', d: '\\p{Nd}', D: '\\P{Nd}',
};
/** Characters that are literal in Oniguruma when escaped and need escaping in a V8 `u` regex. */
const SYNTAX = '^$\\.*+?()[]{}|/-';

class Refused extends Error {}

/** Reads one escape at `i` (pointing at the backslash); returns the V8 text and the next index. */
function escapeAt(src: string, i: number, inClass: boolean): [string, number] {
  const c = src[i + 1];
  if (c === undefined) throw new Refused('pattern ends in a backslash');
  if (c === 'p' || c === 'P') {
    const m = /^\\[pP]\{([A-Za-z_=]+)\}/.exec(src.slice(i));
    if (!m) throw new Refused(`malformed \\${c} at ${i}`);
    try {
      new RegExp(`\\p{${m[1]}}`, 'u');
    } catch {
      throw new Refused(`V8 does not know the property \\p{${m[1]}}`);
    }
    return [m[0], i + m[0].length];
  }
  if (c in SHORTHANDS) return [SHORTHANDS[c]!, i + 2];
  if (c in SIMPLE_ESCAPES) return [SIMPLE_ESCAPES[c]!, i + 2];
  if (SYNTAX.includes(c) || c === "'" || c === ' ' || c === '"') {
    // Only syntax characters may be escaped in V8's u mode; others are written bare.
    return [SYNTAX.includes(c) ? `\\${c}` : c, i + 2];
  }
  throw new Refused(`escape \\${c}${inClass ? ' in a class' : ''} is outside the supported subset`);
}

/** Reads a character class starting at `i` ('['); returns its V8 text and the next index. */
function classAt(src: string, i: number, fold: boolean): [string, number] {
  if (fold) throw new Refused('a character class inside (?i:...)');
  let out = '[';
  let j = i + 1;
  if (src[j] === '^') { out += '^'; j++; }
  if (src[j] === ']') throw new Refused('a class starting with ]');
  // Bounded: j grows every iteration and the loop stops at the end of the pattern.
  while (j < src.length) {
    const c = src[j]!;
    if (c === ']') return [out + ']', j + 1];
    if (c === '[') throw new Refused('a nested class or POSIX bracket');
    if (c === '&' && src[j + 1] === '&') throw new Refused('class intersection (&&)');
    if (c === '\\') {
      const [text, next] = escapeAt(src, j, true);
      out += text;
      j = next;
      continue;
    }
    // '-' between two members is a range, as in V8; '/', '|', '(', ')' etc. are literal in a class.
    out += c === '-' || !SYNTAX.includes(c) ? c : `\\${c}`;
    j++;
  }
  throw new Refused('unterminated class');
}

/** Translate an Oniguruma pattern (the subset in the header) to a global, unicode V8 RegExp. */
export function translateOnigPattern(src: string): OnigTranslation {
  try {
    let out = '';
    // One entry per open group: whether (?i:) folding was on outside it.
    const groups: boolean[] = [];
    let fold = false;
    let i = 0;
    // The previous token was a quantifier: a following '?' makes it lazy (same in both engines),
    // a following '+' would make it possessive (Oniguruma only).
    let lastQuant = false;
    // Bounded: i grows every iteration.
    while (i < src.length) {
      const c = src[i]!;
      if (c === '*' || c === '+' || c === '?' || c === '{') {
        if (lastQuant) {
          if (c !== '?') throw new Refused(`possessive or doubled quantifier at ${i}`);
          out += '?';
          i++;
          lastQuant = false;
          continue;
        }
        if (c === '{') {
          const m = /^\{\d+(,\d*)?\}/.exec(src.slice(i));
          if (!m) throw new Refused(`a literal { or an open-ended {,n} at ${i}`);
          out += m[0];
          i += m[0].length;
        } else {
          out += c;
          i++;
        }
        lastQuant = true;
        continue;
      }
      lastQuant = false;
      if (c === '\\') {
        // (?i) would also fold \p{Lu} etc. in Oniguruma; the library does not: refuse the mismatch.
        if (fold && /[pPsSdD]/.test(src[i + 1] ?? '')) throw new Refused('a class escape inside (?i:...)');
        const [text, next] = escapeAt(src, i, false);
        out += text;
        i = next;
      } else if (c === '[') {
        const [text, next] = classAt(src, i, fold);
        out += text;
        i = next;
      } else if (c === '(') {
        const head = /^\((\?(?:i:|:|=|!|<=|<!))?/.exec(src.slice(i))![0];
        if (head === '(' && src[i + 1] === '?') throw new Refused(`group kind ${src.slice(i, i + 4)} is outside the subset`);
        groups.push(fold);
        if (head === '(?i:') fold = true;
        out += head === '(?i:' ? '(?:' : head;
        i += head.length;
      } else if (c === ')') {
        if (groups.length === 0) throw new Refused(`unbalanced ) at ${i}`);
        fold = groups.pop()!;
        out += ')';
        i++;
      } else if (c === '^' || c === '$') {
        throw new Refused('anchors (^ $) are line-based in Oniguruma');
      } else if (c === '.') {
        out += '[^\\n]'; // Oniguruma's . excludes only \n
        i++;
      } else if (c === '|') {
        out += '|';
        i++;
      } else {
        const cp = src.codePointAt(i)!;
        const ch = String.fromCodePoint(cp);
        if (fold && cp > 0x7f && ch.toLowerCase() !== ch.toUpperCase()) {
          throw new Refused(`non-ASCII cased ${ch} inside (?i:...): Oniguruma folds it, the library does not`);
        }
        out += fold && /[A-Za-z]/.test(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch === '/' ? '\\/' : ch;
        i += ch.length;
      }
    }
    if (groups.length) throw new Refused('unbalanced (');
    return { ok: true, source: out, re: new RegExp(out, 'gu') };
  } catch (e) {
    if (e instanceof Refused) return { ok: false, reason: e.message };
    if (e instanceof SyntaxError) return { ok: false, reason: `V8 rejects the translation: ${e.message}` };
    throw e;
  }
}
