/**
 * Compiles a server's KV-event and tokenizer annotations into its snapshot entry, and the
 * `KvEventsConfigured` condition that tells the user whether precise prefix scoring has what it
 * needs. Events are only carried (and so only subscribed to) when the server's scheduler has a
 * precise-prefix-cache-scorer (`kvcache-aware`): a subscription nobody reads costs every replica a
 * socket per pod and the decoding of every batch.
 */
import { type Issue } from '../api/validate';
import { describeKvEvents, KV_EVENTS_ANNOTATIONS, parseKvEventsAnnotations, parseTokenizerAnnotation } from '../config/kv-events-annotations';
import { lookupPluginType } from '../config/plugin-catalog';
import type { SchedulerConfig } from '../config/scheduler-config';
import type { CompiledCondition } from './conditions';
import type { SnapshotServer } from './schema';

/** Canonical type of the scorer that reads engine KV events. */
export const PRECISE_SCORER_TYPE = 'precise-prefix-cache-scorer';

/** Whether a scheduler configuration scores with engine KV events (and so needs request tokens). */
export function usesKvEvents(config: SchedulerConfig | undefined): boolean {
  if (!config) return false;
  const precise = new Set(config.plugins.filter((p) => lookupPluginType(p.type)?.type === PRECISE_SCORER_TYPE).map((p) => p.name));
  return config.profiles.some((prof) => prof.scorers.some((s) => precise.has(s.plugin)));
}

/** Sets `compiled.kvEvents` / `compiled.tokenizer` and returns the condition to report, if any. */
export function compileKvEvents(compiled: SnapshotServer, annotations: Record<string, string>, config: SchedulerConfig | undefined): CompiledCondition | null {
  const issues: Issue[] = [];
  const kv = parseKvEventsAnnotations(annotations, issues);
  const tokenizer = parseTokenizerAnnotation(annotations, issues);
  const needed = usesKvEvents(config);
  if (issues.length > 0) {
    return { type: 'KvEventsConfigured', status: 'False', reason: 'InvalidAnnotations', message: `${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}. Prefix scoring uses the approximate index until this is fixed` };
  }
  if (needed) compiled.tokenizer = tokenizer;
  if (kv && needed) {
    compiled.kvEvents = kv;
    return { type: 'KvEventsConfigured', status: 'True', reason: 'Subscribed', message: describeKvEvents(kv, tokenizer) };
  }
  if (kv) {
    return { type: 'KvEventsConfigured', status: 'True', reason: 'NotUsed', message: `${KV_EVENTS_ANNOTATIONS.port} is set but the scheduler has no precise-prefix-cache-scorer (kvcache-aware), so no data plane subscribes; add that scorer to use the events` };
  }
  if (needed) {
    return { type: 'KvEventsConfigured', status: 'False', reason: 'NoEvents', message: `the scheduler's precise-prefix-cache-scorer (kvcache-aware) has no KV events for this server: set ${KV_EVENTS_ANNOTATIONS.port} (vLLM --kv-events-config '{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://*:5557"}'). Until then it scores with the approximate prefix index` };
  }
  return null;
}
