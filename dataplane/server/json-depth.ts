/**
 * Nesting depth of a JSON text, measured on the bytes before it is parsed. V8's JSON.parse copes
 * with deep input, but everything after it that walks the value recursively (JSON.stringify when
 * the model is rewritten, the prompt-text extraction) overflows the stack at a few thousand
 * levels, and an OpenAI request never needs more than a handful. One pass, no allocation: cheap
 * next to the parse itself.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * True when some object or array in `buf` is nested more than `limit` levels deep (the top-level
 * object is level 1). Brackets inside strings do not count. Malformed input may give any answer;
 * JSON.parse reports it afterwards.
 */
export function jsonDeeperThan(buf: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}
