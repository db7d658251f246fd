/**
 * Chat templates rendered as vLLM renders them for a text-only model: messages are normalised
 * the way vLLM's chat_utils does (content parts joined with "\n", missing content as "", tool-call
 * arguments parsed from JSON strings into objects), then the tokenizer_config's Jinja template is
 * rendered by @huggingface/jinja (trim_blocks and lstrip_blocks, as transformers sets them) with
 * transformers' variables: messages, tools, add_generation_prompt and the special tokens
 * (bos_token, eos_token, ...); raise_exception is one of the library's globals.
 */
import { Template } from '@huggingface/jinja';

/** One OpenAI chat message as a request carries it. */
export type ChatMessageInput = Record<string, unknown>;

/** Options of applyChatTemplate. */
export interface ChatTemplateOptions {
  /** End with the assistant header the model continues from (vLLM's default for chat). */
  addGenerationPrompt: boolean;
  /** OpenAI `tools`, passed to the template as `tools`. */
  tools?: unknown[];
  /** Extra template variables (vLLM's `chat_template_kwargs`, e.g. enable_thinking). */
  kwargs?: Record<string, unknown>;
}

/** Raised when messages cannot be rendered as text (non-text parts, wrong shapes). */
export class ChatContentError extends Error {}

/**
 * Content as vLLM gives it to a text-only template: a string stays, null/absent becomes "", a list
 * of parts becomes its text parts joined with "\n". Any other part (image, audio, ...) throws:
 * a text-only tokenizer cannot reproduce what the engine does with it.
 */
export function flattenContent(content: unknown, where: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new ChatContentError(`${where}.content must be a string or a list of parts`);
  const texts: string[] = [];
  content.forEach((part: unknown, i) => {
    const p = part as Record<string, unknown> | null;
    if (typeof part === 'string') texts.push(part);
    else if (p && typeof p === 'object' && p.type === 'text' && typeof p.text === 'string') texts.push(p.text);
    else throw new ChatContentError(`${where}.content[${i}] is not a text part`);
  });
  return texts.join('\n');
}

/** vLLM's _postprocess_messages: tool-call arguments given as JSON text become objects. */
function normaliseToolCalls(calls: unknown): unknown {
  if (!Array.isArray(calls)) return calls;
  return calls.map((c) => {
    const call = c as Record<string, unknown>;
    const fn = call?.function as Record<string, unknown> | undefined;
    if (!fn || typeof fn.arguments !== 'string') return c;
    try {
      return { ...call, function: { ...fn, arguments: JSON.parse(fn.arguments) as unknown } };
    } catch {
      return c; // not JSON: the template prints it as text
    }
  });
}

/** Messages as the template sees them. */
export function normaliseMessages(messages: readonly ChatMessageInput[]): Record<string, unknown>[] {
  return messages.map((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string') {
      throw new ChatContentError(`messages[${i}] must be an object with a string role`);
    }
    const out: Record<string, unknown> = { role: m.role, content: flattenContent(m.content, `messages[${i}]`) };
    // Fields vLLM passes through for tool use and reasoning models.
    for (const k of ['name', 'tool_call_id', 'reasoning_content']) if (m[k] !== undefined) out[k] = m[k];
    if (m.tool_calls !== undefined && m.tool_calls !== null) out.tool_calls = normaliseToolCalls(m.tool_calls);
    return out;
  });
}

/** A special token in tokenizer_config.json: a string or an AddedToken object `{content, ...}`. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Record<string, unknown>).content === 'string') {
    return (v as Record<string, string>).content;
  }
  return undefined;
}

/** A parsed chat template plus the special-token variables transformers passes with it. */
export class ChatTemplate {
  private readonly template: Template;
  private readonly specials: Record<string, unknown> = {};

  /** `source` names the file, for error messages. */
  constructor(text: string, config: Record<string, unknown>, readonly source: string) {
    try {
      this.template = new Template(text);
    } catch (e) {
      throw new Error(`${source}: chat_template does not parse: ${(e as Error).message}`);
    }
    // transformers' special_tokens_map: only the tokens that are set.
    for (const k of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
      const t = tokenText(config[k]);
      if (t !== undefined) this.specials[k] = t;
    }
    if (Array.isArray(config.additional_special_tokens)) {
      this.specials.additional_special_tokens = config.additional_special_tokens.map(tokenText).filter((t) => t !== undefined);
    }
  }

  /** Render the prompt text for `messages`. */
  render(messages: readonly ChatMessageInput[], opts: ChatTemplateOptions): string {
    const vars: Record<string, unknown> = {
      ...this.specials,
      ...opts.kwargs,
      messages: normaliseMessages(messages),
      add_generation_prompt: opts.addGenerationPrompt,
    };
    if (opts.tools !== undefined) vars.tools = opts.tools;
    return this.template.render(vars);
  }
}

/**
 * The template text from a tokenizer_config.json: `chat_template` as a string, or a list of named
 * templates (`[{name, template}]`) from which "default" is taken (with tools, "tool_use" first),
 * as transformers chooses.
 */
export function templateText(config: Record<string, unknown>, withTools: boolean): string | null {
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  if (!Array.isArray(t)) return null;
  const named = new Map<string, string>();
  for (const e of t) {
    const o = e as Record<string, unknown>;
    if (typeof o?.name === 'string' && typeof o.template === 'string') named.set(o.name, o.template);
  }
  return (withTools ? named.get('tool_use') : undefined) ?? named.get('default') ?? null;
}
