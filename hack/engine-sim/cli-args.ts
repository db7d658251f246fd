import type { SimPodSpec } from './pod-server';
import { DEFAULT_PROFILE, isProfileKey, type EngineProfile } from './profile';
import type { SimOptions } from './simulator';

/**
 * Command-line parsing for main.ts, kept apart so it can be unit-tested.
 * Flags (each also accepted as --flag=value):
 *   --pod name=p1,ip=127.0.0.2,port=8000,model=M[,namespace=ns][,engine=vllm|sglang|tgi]
 *         [,loras=a:b][,role=prefill|decode|both][,group=G]      (repeatable)
 *         [,kv-events-port=5557][,kv-replay-port=5558][,kv-topic=T]  (vLLM KV events)
 *         [,api-key=K][,ssl-keyfile=P,ssl-certfile=P]              (this pod's, over the flags below)
 *   --config file.json      SimOptions as JSON; --pod entries are appended to its pods
 *   --time-scale N          simulated ms per wall ms
 *   --tokenizer PATH        tokenize with a Hugging Face tokenizer.json (file or directory)
 *   --api-key KEY           vLLM's: /v1 needs Authorization: Bearer KEY (repeatable: any of them);
 *                           default: the VLLM_API_KEY environment variable, as in vLLM
 *   --ssl-keyfile PATH --ssl-certfile PATH   vLLM's: every pod serves HTTPS with this key and certificate
 *   --<profile-field>       any EngineProfile field in kebab case, e.g. --max-num-seqs 256
 *   --help
 */

/** Result of parsing argv. */
export interface CliArgs {
  help: boolean;
  configPath?: string;
  timeScale?: number;
  tokenizer?: string;
  /** --api-key values, in order (empty when none was given). */
  apiKeys: string[];
  sslKeyfile?: string;
  sslCertfile?: string;
  pods: SimPodSpec[];
  profile: Partial<EngineProfile>;
}

/** maxNumSeqs -> max-num-seqs. */
export function kebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Profile field for each kebab-case flag name. */
const PROFILE_FLAGS = new Map<string, keyof EngineProfile>(
  Object.keys(DEFAULT_PROFILE).map((k) => [kebab(k), k as keyof EngineProfile]),
);

function toNumber(flag: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${flag} needs a number, got "${v}"`);
  return n;
}

/** Parse one --pod value: comma-separated key=value pairs; loras are colon-separated. */
export function parsePodSpec(text: string): SimPodSpec {
  const kv = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`--pod: expected key=value, got "${part}"`);
    kv.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const known = new Set(['name', 'namespace', 'ip', 'port', 'model', 'engine', 'loras', 'role', 'group', 'kv-events-port', 'kv-replay-port', 'kv-topic',
    'api-key', 'ssl-keyfile', 'ssl-certfile']);
  for (const k of kv.keys()) if (!known.has(k)) throw new Error(`--pod: unknown key "${k}"`);
  const spec: SimPodSpec = {
    name: kv.get('name') ?? '',
    ip: kv.get('ip') ?? '127.0.0.1',
    port: kv.has('port') ? toNumber('pod port', kv.get('port') as string) : 8000,
    model: kv.get('model') ?? '',
  };
  if (kv.has('namespace')) spec.namespace = kv.get('namespace');
  if (kv.has('engine')) spec.engine = kv.get('engine') as SimPodSpec['engine'];
  if (kv.has('role')) spec.role = kv.get('role') as SimPodSpec['role'];
  if (kv.has('group')) spec.group = kv.get('group');
  if (kv.has('api-key')) spec.apiKey = kv.get('api-key');
  if (kv.has('ssl-keyfile')) spec.sslKeyfile = kv.get('ssl-keyfile');
  if (kv.has('ssl-certfile')) spec.sslCertfile = kv.get('ssl-certfile');
  const loras = kv.get('loras');
  if (loras) spec.loras = loras.split(':').filter((l) => l !== '');
  if (kv.has('kv-events-port')) {
    spec.kvEvents = { port: toNumber('pod kv-events-port', kv.get('kv-events-port') as string) };
    if (kv.has('kv-replay-port')) spec.kvEvents.replayPort = toNumber('pod kv-replay-port', kv.get('kv-replay-port') as string);
    if (kv.has('kv-topic')) spec.kvEvents.topic = kv.get('kv-topic');
  } else if (kv.has('kv-replay-port') || kv.has('kv-topic')) {
    throw new Error('--pod: kv-replay-port and kv-topic need kv-events-port');
  }
  return spec;
}

/** Parse argv (without node and script). Throws on unknown flags or bad values. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = { help: false, apiKeys: [], pods: [], profile: {} };
  // Bounded by argv length: each iteration consumes one or two entries.
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      out.help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new Error(`--${flag} needs a value`);
      value = argv[++i];
    }
    if (flag === 'pod') out.pods.push(parsePodSpec(value));
    else if (flag === 'config') out.configPath = value;
    else if (flag === 'time-scale') out.timeScale = toNumber(flag, value);
    else if (flag === 'tokenizer') out.tokenizer = value;
    else if (flag === 'api-key') out.apiKeys.push(value);
    else if (flag === 'ssl-keyfile') out.sslKeyfile = value;
    else if (flag === 'ssl-certfile') out.sslCertfile = value;
    else if (PROFILE_FLAGS.has(flag)) out.profile[PROFILE_FLAGS.get(flag) as keyof EngineProfile] = toNumber(flag, value);
    else throw new Error(`unknown flag --${flag} (see --help)`);
  }
  return out;
}

/**
 * Merge a config file's SimOptions (if any) with command-line values; the command line wins. The
 * API key falls back to `env.VLLM_API_KEY` (ignored when empty), as vLLM's --api-key does.
 */
export function buildOptions(args: CliArgs, config: Partial<SimOptions> = {}, env: NodeJS.ProcessEnv = {}): SimOptions {
  if (config.profile) {
    for (const k of Object.keys(config.profile)) if (!isProfileKey(k)) throw new Error(`config: unknown profile field "${k}"`);
  }
  const apiKey = args.apiKeys.length ? args.apiKeys : (config.apiKey ?? (env.VLLM_API_KEY || undefined));
  const sslKeyfile = args.sslKeyfile ?? config.sslKeyfile;
  const sslCertfile = args.sslCertfile ?? config.sslCertfile;
  return {
    pods: [...(config.pods ?? []), ...args.pods],
    timeScale: args.timeScale ?? config.timeScale,
    profile: { ...config.profile, ...args.profile },
    ...(args.tokenizer ?? config.tokenizer ? { tokenizer: args.tokenizer ?? config.tokenizer } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(sslKeyfile !== undefined ? { sslKeyfile } : {}),
    ...(sslCertfile !== undefined ? { sslCertfile } : {}),
  };
}

/** --help text. */
export function usageText(): string {
  const profileFlags = Object.entries(DEFAULT_PROFILE)
    .map(([k, v]) => `  --${kebab(k)} N`.padEnd(34) + `(default ${v})`)
    .join('\n');
  return [
    'Usage: sluice-engine-sim [--config file.json] --pod name=p1,ip=127.0.0.2,port=8000,model=M [--pod ...] [flags]',
    '',
    'Pod keys: name, ip (127.0.0.0/8), port (0 = ephemeral), model, namespace, engine (vllm|sglang|tgi),',
    '          loras (colon-separated adapter names), role (prefill|decode|both),',
    '          group (PD group: KV moves only between prefill and decode pods of one group),',
    '          kv-events-port (publish vLLM KV events over ZMQ; 0 = ephemeral), kv-replay-port, kv-topic,',
    '          api-key, ssl-keyfile, ssl-certfile (this pod\'s, instead of the flags below)',
    '  --config FILE                   SimOptions JSON ({"pods":[...],"timeScale":N,"profile":{...}})',
    '  --time-scale N                  simulated ms per wall-clock ms (default 1)',
    '  --tokenizer PATH                tokenize with a Hugging Face tokenizer.json or its directory (default: stand-in)',
    '  --api-key KEY                   as vLLM: /v1 requests need "Authorization: Bearer KEY", else 401',
    '                                  (repeatable: any of the keys; default $VLLM_API_KEY)',
    '  --ssl-keyfile PATH              as vLLM: serve HTTPS with this PEM key ...',
    '  --ssl-certfile PATH             ... and this PEM certificate (both or neither)',
    profileFlags,
    '',
    'Prints "engine-sim ready <json>" when every pod listens; SIGTERM/SIGINT stop it.',
  ].join('\n');
}
