/**
 * The prompt text of an OpenAI request, for prefix affinity: `prompt` (string or list of
 * strings), `messages` (role and content, including content parts of type text), or `input`
 * (embeddings). Messages are joined in order with their roles, so two conversations share a
 * prefix exactly as far as their rendered chat templates would.
 */

/** Extracts prompt text from a parsed request body; '' when there is none. */
export function promptText(body: Record<string, unknown>): string {
  const { prompt, messages, input } = body;
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt)) return prompt.filter((p): p is string => typeof p === 'string').join('\n');
  if (Array.isArray(messages)) {
    let out = '';
    for (const m of messages) {
      if (typeof m !== 'object' || m === null) continue;
      const { role, content } = m as { role?: unknown; content?: unknown };
      out += `<|${typeof role === 'string' ? role : 'user'}|>\n`;
      if (typeof content === 'string') out += content;
      else if (Array.isArray(content)) {
        for (const part of content) {
          const text = (part as { text?: unknown } | null)?.text;
          if (typeof text === 'string') out += text;
        }
      }
      out += '\n';
    }
    return out;
  }
  if (typeof input === 'string') return input;
  if (Array.isArray(input)) return input.filter((p): p is string => typeof p === 'string').join('\n');
  return '';
}
