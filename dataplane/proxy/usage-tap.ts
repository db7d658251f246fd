/**
 * Reads token usage from a response as it passes through, without holding it back or parsing it
 * whole: only the last few KiB are kept, since engines (vLLM, SGLang, TGI) put `usage` at the end of
 * a JSON answer and in the last event of a stream. At the end, the last `"usage"` object in that
 * tail is cut out by brace matching and parsed alone.
 */

/** Token counts reported by the engine. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

const TAIL = 8192;
const EVENT = Buffer.from('data: {');

/** Collects the tail of a response. */
export class UsageTap {
  private chunks: Buffer[] = [];
  private size = 0;
  /**
   * JSON events of a server-sent-event stream seen so far (`data: {`; `data: [DONE]` is not one).
   * Engines send about one token per event, so when a stream carries no usage (the client did not
   * ask for `stream_options.include_usage`) this is the output-token estimate rate limits and
   * fairness charge. A marker split across two chunks is missed, which only under-counts by one.
   */
  events = 0;

  /** Sees one chunk on its way to the client. */
  push(chunk: Buffer): void {
    for (let at = chunk.indexOf(EVENT); at >= 0; at = chunk.indexOf(EVENT, at + EVENT.length)) this.events += 1;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= TAIL) this.size -= this.chunks.shift()!.length;
  }

  /** The usage, if the tail of the response carried one. */
  usage(): Usage | null {
    if (this.size === 0) return null;
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    const text = buf.length > TAIL * 2 ? buf.toString('utf8', buf.length - TAIL * 2) : buf.toString('utf8');
    return findUsage(text);
  }
}

/** Finds and parses the last `"usage": {...}` object in `text`. */
export function findUsage(text: string): Usage | null {
  let at = text.lastIndexOf('"usage"');
  while (at >= 0) {
    const open = text.indexOf('{', at + 7);
    // Only whitespace and a colon may sit between the key and its object (`"usage": null` is skipped).
    if (open > 0 && /^\s*:\s*$/.test(text.slice(at + 7, open))) {
      const close = matchBrace(text, open);
      if (close > 0) {
        try {
          const u = JSON.parse(text.slice(open, close + 1)) as Record<string, unknown>;
          if (typeof u.prompt_tokens === 'number') {
            return { promptTokens: u.prompt_tokens, completionTokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : 0 };
          }
        } catch {
          // Not JSON after all; look further back.
        }
      }
    }
    at = text.lastIndexOf('"usage"', at - 1);
  }
  return null;
}

/** Index of the brace closing the one at `open`, skipping braces inside strings; -1 if cut off. */
function matchBrace(text: string, open: number): number {
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return i;
  }
  return -1;
}
