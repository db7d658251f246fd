/**
 * Where a ModelServer's engines publish their KV-cache events and how the data plane tokenizes its
 * requests, from ModelServer (or InferencePool) annotations. Kthena's ModelServer has no field for
 * either, so annotations keep Kthena YAML unchanged:
 *
 *     sluice.dev/kv-events-port: "5557"          # subscribe to tcp://<pod IP>:5557 (vLLM --kv-events-config endpoint tcp://*:5557)
 *     sluice.dev/kv-events-replay-port: "5558"   # optional: the publisher's replay socket (replay_endpoint tcp://*:5558)
 *     sluice.dev/kv-events-topic: "kv-events"    # optional: only messages whose topic starts with this (default: every topic)
 *     sluice.dev/tokenizer: "engine"             # "engine" (POST /tokenize on the pod, the default) or an absolute
 *                                                #  path, on the data plane, of a tokenizer.json or the folder holding it
 *
 * Every data-plane replica connects to every pod's publisher (the engines bind, the routers
 * connect), so each replica sees every cache, however many replicas a Service spreads clients over.
 */
import { type Issue } from '../api/validate';
import { annotationPath } from './queue-annotations';

/** The annotation keys. */
export const KV_EVENTS_ANNOTATIONS = {
  port: 'sluice.dev/kv-events-port',
  replayPort: 'sluice.dev/kv-events-replay-port',
  topic: 'sluice.dev/kv-events-topic',
  tokenizer: 'sluice.dev/tokenizer',
} as const;

/** Where the events of each pod come from. */
export interface KvEventsConfig {
  port: number;
  replayPort?: number;
  topic: string;
}

/** How the data plane turns a request into the engine's token ids. */
export type TokenizerSpec = { kind: 'engine' } | { kind: 'file'; path: string };

/** Paths are bounded: a snapshot carries them and a data plane opens them. */
const MAX_PATH = 4096;

function port(annotations: Record<string, string>, key: string, issues: Issue[]): number | undefined {
  const raw = annotations[key];
  if (raw === undefined) return undefined;
  const n = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(n >= 1 && n <= 65535)) {
    issues.push({ path: annotationPath(key), message: `${key} must be a port number from 1 to 65535, such as "5557" (got ${JSON.stringify(raw)})` });
    return undefined;
  }
  return n;
}

/** The tokenizer annotation, or the default (`engine`). Problems go to `issues`. */
export function parseTokenizerAnnotation(annotations: Record<string, string>, issues: Issue[]): TokenizerSpec {
  const key = KV_EVENTS_ANNOTATIONS.tokenizer;
  const raw = annotations[key];
  if (raw === undefined || raw.trim() === 'engine') return { kind: 'engine' };
  const path = raw.trim();
  if (!path.startsWith('/') || path.length > MAX_PATH || path.includes('\0')) {
    issues.push({ path: annotationPath(key), message: `${key} must be "engine" or an absolute path on the data plane of a tokenizer.json file or the folder that holds it, such as /var/lib/sluice/tokenizers/qwen3 (got ${JSON.stringify(raw.slice(0, 200))})` });
    return { kind: 'engine' };
  }
  return { kind: 'file', path };
}

/** The events settings, or null when the server publishes none. Problems go to `issues`. */
export function parseKvEventsAnnotations(annotations: Record<string, string>, issues: Issue[]): KvEventsConfig | null {
  const p = port(annotations, KV_EVENTS_ANNOTATIONS.port, issues);
  const replay = port(annotations, KV_EVENTS_ANNOTATIONS.replayPort, issues);
  const topic = annotations[KV_EVENTS_ANNOTATIONS.topic];
  if (topic !== undefined && topic.length > 256) {
    issues.push({ path: annotationPath(KV_EVENTS_ANNOTATIONS.topic), message: `${KV_EVENTS_ANNOTATIONS.topic} is ${topic.length} characters; a topic prefix of at most 256 is plenty` });
  }
  if (p === undefined) {
    for (const key of [KV_EVENTS_ANNOTATIONS.replayPort, KV_EVENTS_ANNOTATIONS.topic].filter((k) => annotations[k] !== undefined)) {
      if (annotations[KV_EVENTS_ANNOTATIONS.port] === undefined) {
        issues.push({ path: annotationPath(key), message: `${key} only applies with ${KV_EVENTS_ANNOTATIONS.port}; set that or remove this annotation` });
      }
    }
    return null;
  }
  if (replay === p) {
    issues.push({ path: annotationPath(KV_EVENTS_ANNOTATIONS.replayPort), message: `${KV_EVENTS_ANNOTATIONS.replayPort} is the same port as ${KV_EVENTS_ANNOTATIONS.port} (${p}); the replay socket is a separate one, such as ${p + 1}` });
  }
  const out: KvEventsConfig = { port: p, topic: topic ?? '' };
  if (replay !== undefined && replay !== p) out.replayPort = replay;
  return out;
}

/** One line for the KvEventsConfigured condition. */
export function describeKvEvents(kv: KvEventsConfig, tokenizer: TokenizerSpec): string {
  const topic = kv.topic ? `topic prefix ${JSON.stringify(kv.topic)}` : 'every topic';
  const replay = kv.replayPort ? `, replay on port ${kv.replayPort}` : ', no replay (a gap clears that pod\'s index)';
  const tok = tokenizer.kind === 'engine' ? 'requests tokenized by the pod (POST /tokenize)' : `requests tokenized in the data plane with ${tokenizer.path}`;
  return `each data plane subscribes to tcp://<pod IP>:${kv.port} (${topic}${replay}); ${tok}`;
}
