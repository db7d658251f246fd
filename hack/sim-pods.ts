/**
 * Derives engine-simulator pods from a folder of API objects: every Pod with a podIP becomes a
 * simulated engine, serving the model and engine of the ModelServer that selects it, on that
 * ModelServer's port. The annotation `sim.sluice.dev/loras: a,b` lists the adapters it can serve;
 * `sim.sluice.dev/serve: "false"` leaves the pod unserved, so connects to it are refused.
 * With a `pdGroup`, a pod's role comes from its prefill/decode labels and its PD group from the
 * value of its `groupKey` label: the simulator hands KV only between pods of one group.
 */
import type { Pod } from '../shared/api/core-types';
import { poolTarget } from '../shared/api/inference-pool';
import type { ModelServer } from '../shared/api/model-server';
import { parseKvEventsAnnotations, parseTokenizerAnnotation } from '../shared/config/kv-events-annotations';
import { DEFAULT_ENGINE_PORT, type ObjectSet } from '../shared/snapshot/compile';

/** One pod for the simulator (the shape of the simulator's SimPodSpec). */
export interface SimPodFromFolder {
  name: string;
  namespace: string;
  ip: string;
  port: number;
  model: string;
  engine: 'vllm' | 'sglang' | 'tgi';
  loras: string[];
  role?: 'prefill' | 'decode';
  /** PD group: the pod's value of the ModelServer's pdGroup.groupKey label. */
  group?: string;
  /** Publish vLLM KV events, where the ModelServer's sluice.dev/kv-events-* annotations say to. */
  kvEvents?: { port: number; replayPort?: number; topic?: string };
}

const ENGINE: Record<ModelServer['spec']['inferenceEngine'], SimPodFromFolder['engine']> = { vLLM: 'vllm', SGLang: 'sglang', TGI: 'tgi' };

const nsOf = (o: { metadata: { namespace?: string } }) => o.metadata.namespace ?? 'default';

function selects(selector: { namespace: string; matchLabels: Record<string, string> }, pod: Pod): boolean {
  if (selector.namespace !== nsOf(pod)) return false;
  const labels = pod.metadata.labels ?? {};
  return Object.entries(selector.matchLabels).every(([k, v]) => labels[k] === v);
}

const serverSelector = (s: ModelServer) => ({ namespace: nsOf(s), matchLabels: s.spec.workloadSelector.matchLabels ?? {} });

/** The ModelServer whose pod the simulator plays `pod` as, or why it does not play it. */
function playedAs(pod: Pod, objects: ObjectSet): { server: ModelServer; ip: string } | { why: string } {
  const ip = pod.status?.podIP;
  if (!ip) return { why: 'it has no status.podIP' };
  if (pod.metadata.annotations?.['sim.sluice.dev/serve'] === 'false') return { why: 'its annotation sim.sluice.dev/serve is "false"' };
  const server = objects.servers.find((s) => selects(serverSelector(s), pod));
  if (server) return { server, ip };
  const pool = (objects.inferencePools ?? []).find((p) => selects({ namespace: nsOf(p), matchLabels: poolTarget(p).matchLabels }, pod));
  return { why: pool ? `only InferencePool ${nsOf(pool)}/${pool.metadata.name} selects it, and the simulator plays ModelServer pods only` : 'no ModelServer selects it' };
}

/** A Pod of the folder the simulator does not play, and why. */
export interface UnplayedPod {
  /** `namespace/name`, as the snapshot names endpoints. */
  pod: string;
  why: string;
}

/** The folder's Pods the simulator does not play (connects to them are refused), with the reason. */
export function unplayedPods(objects: ObjectSet): UnplayedPod[] {
  return objects.pods.flatMap((pod) => {
    const played = playedAs(pod, objects);
    return 'why' in played ? [{ pod: `${nsOf(pod)}/${pod.metadata.name}`, why: played.why }] : [];
  });
}

/** The simulator pods for a folder's objects; pods it cannot play are skipped (see unplayedPods). */
export function simPodsFor(objects: ObjectSet): SimPodFromFolder[] {
  const out: SimPodFromFolder[] = [];
  for (const pod of objects.pods) {
    const played = playedAs(pod, objects);
    if ('why' in played) continue;
    const { server, ip } = played;
    const pd = server.spec.workloadSelector.pdGroup;
    const labels = pod.metadata.labels ?? {};
    const isRole = (want: Record<string, string>) => Object.entries(want).every(([k, v]) => labels[k] === v);
    const spec: SimPodFromFolder = {
      name: pod.metadata.name,
      namespace: nsOf(pod),
      ip,
      port: server.spec.workloadPort?.port ?? DEFAULT_ENGINE_PORT,
      model: server.spec.model ?? server.metadata.name,
      engine: ENGINE[server.spec.inferenceEngine],
      loras: (pod.metadata.annotations?.['sim.sluice.dev/loras'] ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    };
    if (pd) spec.role = isRole(pd.prefillLabels) ? 'prefill' : isRole(pd.decodeLabels) ? 'decode' : undefined;
    if (spec.role === undefined) delete spec.role;
    const group = pd ? labels[pd.groupKey] : undefined;
    if (group) spec.group = group;
    const kv = parseKvEventsAnnotations(server.metadata.annotations ?? {}, []);
    if (kv) spec.kvEvents = { port: kv.port, topic: kv.topic, ...(kv.replayPort !== undefined ? { replayPort: kv.replayPort } : {}) };
    out.push(spec);
  }
  return out;
}

/**
 * The tokenizer the simulator should use: the file a ModelServer's `sluice.dev/tokenizer` names,
 * so the simulated engines count the same tokens the data plane computes; undefined for the
 * simulator's own stand-in tokenizer (servers that tokenize through the engine get that one).
 */
export function simTokenizerFor(objects: ObjectSet): string | undefined {
  for (const server of objects.servers) {
    const spec = parseTokenizerAnnotation(server.metadata.annotations ?? {}, []);
    if (spec.kind === 'file') return spec.path;
  }
  return undefined;
}

/**
 * A Running and Ready Pod as YAML (one document, no `---`), the way tests and benchmarks
 * describe simulated engine pods to the operator.
 */
export function readyPodYaml(name: string, labels: Record<string, string>, ip: string, opts: { namespace?: string; annotations?: Record<string, string> } = {}): string {
  const map = (m: Record<string, string>) => `{${Object.entries(m).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`;
  const annotations = opts.annotations ? `, annotations: ${map(opts.annotations)}` : '';
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${opts.namespace ?? 'default'}, labels: ${map(labels)}${annotations}}
status: {phase: Running, podIP: ${ip}, conditions: [{type: Ready, status: "True"}]}
`;
}
