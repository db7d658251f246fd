import { SimPod, type SimPodSpec } from './pod-server';
import { resolveProfile, type EngineProfile } from './profile';
import { loadHfTokenizer } from '../../shared/tokenizer/hf-tokenizer';

export { SimPod, type SimPodSpec, type SimPodInfo } from './pod-server';
export { DEFAULT_PROFILE, type EngineProfile } from './profile';

/**
 * Entry point of the engine simulator: one process serving many simulated,
 * vLLM-compatible inference pods, each on its own ip:port (e.g. 127.0.0.2:8000,
 * 127.0.0.3:8000 — distinct loopback addresses sharing a port, like a cluster).
 * See README.md in this folder for endpoints, timing formulas and test hooks.
 */

/** Options of startEngineSim. */
export interface SimOptions {
  pods: SimPodSpec[];
  /** Simulated ms per wall-clock ms; 10 runs ten times faster than real time (default 1). */
  timeScale?: number;
  /** Overrides of the engine profile shared by every pod. */
  profile?: Partial<EngineProfile>;
  /**
   * A Hugging Face tokenizer.json (or a directory with it and tokenizer_config.json): prompts and
   * chat messages are tokenized as vLLM would with it. Default: the stand-in tokenizer.
   */
  tokenizer?: string;
  /** vLLM's `--api-key` for every pod that sets no `apiKey` of its own (`""` or `[]` there opts out). */
  apiKey?: string | string[];
  /** vLLM's `--ssl-keyfile` for every pod that sets no TLS files of its own: with sslCertfile, pods serve HTTPS. */
  sslKeyfile?: string;
  /** vLLM's `--ssl-certfile`, likewise. */
  sslCertfile?: string;
}

/** Running simulator. */
export interface EngineSimHandle {
  /** Pods in the order given, with their bound ports. */
  pods: SimPod[];
  /** Stop every pod and close its listener. */
  close(): Promise<void>;
}

const FLAVOURS = new Set(['vllm', 'sglang', 'tgi']);
const ROLES = new Set(['prefill', 'decode', 'both']);

/** Reject specs that could not work, with a message naming the pod. */
function validateSpec(spec: SimPodSpec, i: number): void {
  const where = `pod ${i} (${spec.name ?? 'unnamed'})`;
  if (!spec.name) throw new Error(`${where}: name is required`);
  if (!spec.model) throw new Error(`${where}: model is required`);
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(spec.ip ?? '')) {
    throw new Error(`${where}: ip must be a loopback address in 127.0.0.0/8, got "${spec.ip}"`);
  }
  if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535) throw new Error(`${where}: bad port ${spec.port}`);
  if (spec.engine !== undefined && !FLAVOURS.has(spec.engine)) throw new Error(`${where}: engine must be vllm, sglang or tgi`);
  if (spec.role !== undefined && !ROLES.has(spec.role)) throw new Error(`${where}: role must be prefill, decode or both`);
  if (spec.group !== undefined && (typeof spec.group !== 'string' || spec.group === '')) {
    throw new Error(`${where}: group must be a non-empty string (the pdGroup.groupKey label value)`);
  }
  if (spec.loras?.includes(spec.model)) throw new Error(`${where}: a LoRA adapter cannot share the base model's name`);
  const kv = spec.kvEvents;
  if (kv !== undefined) {
    const bad = (p: unknown): boolean => !Number.isInteger(p) || (p as number) < 0 || (p as number) > 65535;
    if (bad(kv.port)) throw new Error(`${where}: bad kvEvents.port ${kv.port}`);
    if (kv.replayPort !== undefined && bad(kv.replayPort)) throw new Error(`${where}: bad kvEvents.replayPort ${kv.replayPort}`);
    if (kv.topic !== undefined && typeof kv.topic !== 'string') throw new Error(`${where}: kvEvents.topic must be a string`);
  }
  const key = spec.apiKey;
  if (key !== undefined && typeof key !== 'string' && !(Array.isArray(key) && key.every((k) => typeof k === 'string'))) {
    throw new Error(`${where}: apiKey must be a string or an array of strings`);
  }
  if ((spec.sslKeyfile === undefined) !== (spec.sslCertfile === undefined)) {
    throw new Error(`${where}: sslKeyfile and sslCertfile go together (vLLM's --ssl-keyfile and --ssl-certfile)`);
  }
}

/** A pod spec with the simulator-wide API key and TLS files filled in where it has none of its own. */
function withDefaults(spec: SimPodSpec, opts: SimOptions): SimPodSpec {
  const out = { ...spec };
  if (out.apiKey === undefined && opts.apiKey !== undefined) out.apiKey = opts.apiKey;
  if (out.sslKeyfile === undefined && out.sslCertfile === undefined) {
    if (opts.sslKeyfile !== undefined) out.sslKeyfile = opts.sslKeyfile;
    if (opts.sslCertfile !== undefined) out.sslCertfile = opts.sslCertfile;
  }
  return out;
}

/**
 * Start every pod and resolve once all listeners are bound. If any pod fails
 * to bind, the ones already started are closed and the error is rethrown.
 */
export async function startEngineSim(opts: SimOptions): Promise<EngineSimHandle> {
  const timeScale = opts.timeScale ?? 1;
  if (!(typeof timeScale === 'number' && timeScale > 0 && Number.isFinite(timeScale))) {
    throw new Error('timeScale must be a positive number');
  }
  const profile = resolveProfile(opts.profile);
  if (!opts.pods?.length) throw new Error('at least one pod is required');
  const specs = opts.pods.map((p) => withDefaults(p, opts));
  specs.forEach(validateSpec);
  const seen = new Set<string>();
  for (const p of specs) {
    const key = `${p.ip}:${p.port}`;
    if (p.port !== 0 && seen.has(key)) throw new Error(`two pods bind ${key}`);
    seen.add(key);
  }

  // Loaded once, shared by every pod (one chunk cache).
  const tokenizer = opts.tokenizer ? await loadHfTokenizer(opts.tokenizer) : null;
  // Throws before anything listens when a pod's TLS files cannot be read.
  const pods = specs.map((spec) => new SimPod(spec, profile, timeScale, tokenizer));
  const close = async (): Promise<void> => {
    await Promise.all(pods.map((p) => p.close()));
  };
  try {
    await Promise.all(pods.map((p) => p.listen()));
  } catch (e) {
    await close();
    throw e;
  }
  return { pods, close };
}
