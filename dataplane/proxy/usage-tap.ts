/**
 * Reads token usage from a response as it passes through, without holding the stream back:
 * a JSON answer is kept (up to a cap) and parsed at the end; an SSE stream keeps only its tail,
 * where the final `usage` chunk arrives.
 */

/** Token counts reported by the engine. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

const JSON_CAP = 1 << 20;
const TAIL = 8192;

/** Collects what is needed to find `usage` at the end of a response. */
export class UsageTap {
  private readonly stream: boolean;
  private chunks: Buffer[] = [];
  private size = 0;
  private overflow = false;

  constructor(stream: boolean) {
    this.stream = stream;
  }

  /** Sees one chunk on its way to the client. */
  push(chunk: Buffer): void {
    if (this.overflow) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.stream) {
      // Keep just enough of the tail to contain the last event or two.
      while (this.size - this.chunks[0]!.length >= TAIL) this.size -= this.chunks.shift()!.length;
    } else if (this.size > JSON_CAP) {
      this.overflow = true;
      this.chunks = [];
    }
  }

  /** The usage, if the response carried one. */
  usage(): Usage | null {
    if (this.overflow || this.chunks.length === 0) return null;
    const text = Buffer.concat(this.chunks).toString('utf8');
    if (!this.stream) {
      try {
        return pick((JSON.parse(text) as { usage?: unknown }).usage);
      } catch {
        return null;
      }
    }
    const events = text.split('\n');
    for (let i = events.length - 1; i >= 0; i--) {
      const line = events[i]!;
      if (!line.startsWith('data:') || !line.includes('"usage"')) continue;
      try {
        const found = pick((JSON.parse(line.slice(5)) as { usage?: unknown }).usage);
        if (found) return found;
      } catch {
        // A line cut at the start of the tail window: keep looking further back.
      }
    }
    return null;
  }
}

function pick(u: unknown): Usage | null {
  if (typeof u !== 'object' || u === null) return null;
  const o = u as Record<string, unknown>;
  if (typeof o.prompt_tokens !== 'number') return null;
  return { promptTokens: o.prompt_tokens, completionTokens: typeof o.completion_tokens === 'number' ? o.completion_tokens : 0 };
}
