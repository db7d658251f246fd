/**
 * A string a regular expression matches, so the quickstart can print a header value that a rule's
 * `regex` header match accepts. Built from the pattern: the first alternative, the fewest
 * repetitions a quantifier allows, and for a one-character atom (`.`, `[a-z]`, `\d`, ...) the first
 * printable ASCII character it accepts. The result is then checked with the RegExp itself, as the
 * data plane compiles it (no flags, unanchored `test`), so a wrong guess is never returned.
 * Look-arounds, back-references and named back-references are not built: null.
 */

/** Printable ASCII, letters and digits first: the order single-character atoms are tried in. */
const PRINTABLE = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => !/[a-zA-Z0-9]/.test(c)),
];

class Unsupported extends Error {}

/** Recursive descent over a JavaScript regex source, building one matching string. */
class Builder {
  private pos = 0;
  constructor(private readonly src: string) {}

  build(): string {
    const out = this.alternation();
    if (this.pos < this.src.length) throw new Unsupported(`unexpected ${this.src[this.pos]}`);
    return out;
  }

  /** `a|b|c`: the first alternative; the others are parsed and dropped. */
  private alternation(): string {
    const first = this.sequence();
    while (this.src[this.pos] === '|') {
      this.pos++;
      this.sequence();
    }
    return first;
  }

  private sequence(): string {
    let out = '';
    while (this.pos < this.src.length && this.src[this.pos] !== '|' && this.src[this.pos] !== ')') {
      const atom = this.atom();
      out += atom.repeat(this.quantifier());
    }
    return out;
  }

  /** The fewest repetitions the quantifier after an atom allows (1 without one). */
  private quantifier(): number {
    const c = this.src[this.pos];
    let n = 1;
    if (c === '*' || c === '?') {
      n = 0;
      this.pos++;
    } else if (c === '+') {
      this.pos++;
    } else if (c === '{') {
      const m = /^\{(\d+)(,\d*)?\}/.exec(this.src.slice(this.pos));
      if (!m) return 1; // a literal brace, read as the next atom
      n = Number(m[1]);
      this.pos += m[0].length;
    } else {
      return 1;
    }
    if (this.src[this.pos] === '?') this.pos++; // lazy: same fewest repetitions
    return n;
  }

  private atom(): string {
    const c = this.src[this.pos]!;
    if (c === '^' || c === '$') {
      this.pos++;
      return '';
    }
    if (c === '(') return this.group();
    if (c === '[') {
      const end = this.classEnd();
      const cls = this.src.slice(this.pos, end);
      this.pos = end;
      return oneChar(cls);
    }
    if (c === '.') {
      this.pos++;
      return oneChar('.');
    }
    if (c === '\\') return this.escape();
    this.pos++;
    return c;
  }

  private group(): string {
    this.pos++;
    if (this.src.startsWith('?:', this.pos)) this.pos += 2;
    else if (/^\?<[A-Za-z_$][\w$]*>/.test(this.src.slice(this.pos))) this.pos = this.src.indexOf('>', this.pos) + 1;
    else if (this.src[this.pos] === '?') throw new Unsupported('look-around');
    const out = this.alternation();
    if (this.src[this.pos] !== ')') throw new Unsupported('unclosed group');
    this.pos++;
    return out;
  }

  /** Index just past the `]` that closes the class starting at `pos`. */
  private classEnd(): number {
    let i = this.pos + 1;
    if (this.src[i] === '^') i++;
    for (; i < this.src.length; i++) {
      if (this.src[i] === '\\') i++;
      else if (this.src[i] === ']') return i + 1;
    }
    throw new Unsupported('unclosed class');
  }

  private escape(): string {
    const next = this.src[this.pos + 1];
    if (next === undefined) throw new Unsupported('trailing backslash');
    if (/[1-9k]/.test(next)) throw new Unsupported('back-reference');
    if (next === 'b' || next === 'B') {
      this.pos += 2;
      return '';
    }
    const hex = /^\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})/.exec(this.src.slice(this.pos));
    if (hex) {
      this.pos += hex[0].length;
      return String.fromCharCode(parseInt(hex[1]!.slice(1), 16));
    }
    this.pos += 2;
    // \d, \w, \s and their negations stand for a class, \n and the like for a control character
    // (which no printable character matches); any other escaped character for itself.
    return /[dDwWsSntrfv0]/.test(next) ? oneChar(`\\${next}`) : next;
  }
}

/** The first printable ASCII character the one-character pattern accepts. */
function oneChar(pattern: string): string {
  const re = new RegExp(`^(?:${pattern})$`);
  const c = PRINTABLE.find((ch) => re.test(ch));
  if (c === undefined) throw new Unsupported(`no printable character matches ${pattern}`);
  return c;
}

/** A string `new RegExp(source).test` accepts, or null when none could be built. */
export function regexExample(source: string): string | null {
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch {
    return null;
  }
  let built: string;
  try {
    built = new Builder(source).build();
  } catch (err) {
    if (err instanceof Unsupported || err instanceof SyntaxError) return null;
    throw err;
  }
  return re.test(built) ? built : null;
}
