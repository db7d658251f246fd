/**
 * An InferencePool compiled like a ModelServer: its selected Running and Ready pods on its target
 * port become endpoints, its annotations (seed 003) give its engine and scheduler configuration.
 * ModelRoute targets may name a pool where they would name a ModelServer. A pool has no `model`,
 * so requests keep the model name the client sent.
 */
import { poolTarget, type InferencePool } from '../api/inference-pool';
import { defaultSchedulerConfig } from '../config/scheduler-config-source';
import { parseInferencePoolAnnotations } from '../config/inference-pool-annotations';
import { describeQueue } from '../config/queue-annotations';
import type { QueueConfig } from '../config/router-policy';
import type { SchedulerConfig } from '../config/scheduler-config';
import { DEFAULT_RETRY_ATTEMPTS, formatLabels, type PodIndex } from './compile';
import type { SchedulerIssue } from './compile-scheduler';
import type { CompiledCondition, CompiledStatus } from './conditions';
import type { SnapshotServer } from './schema';

/** A compiled pool. */
export interface CompiledPool {
  compiled: SnapshotServer;
  config: SchedulerConfig;
  status: CompiledStatus;
  issues: SchedulerIssue[];
}

/** Compiles one pool; `lastGood` holds scheduler configurations last seen valid, by key. */
export function compilePool(pool: InferencePool, pods: PodIndex, lastGood: Readonly<Record<string, SchedulerConfig>>): CompiledPool {
  const namespace = pool.metadata.namespace ?? 'default';
  const key = `${namespace}/${pool.metadata.name}`;
  const schedulerKey = `InferencePool ${key}`;
  const { matchLabels, port } = poolTarget(pool);
  const { selected, ready } = pods.select(namespace, matchLabels);
  const parsed = parseInferencePoolAnnotations(pool.metadata.annotations ?? {}, `InferencePool ${key} annotations`);
  const gen = pool.metadata.generation;
  const issues: SchedulerIssue[] = [];
  let config: SchedulerConfig;
  let engine: SnapshotServer['engine'] = 'vLLM';
  let sched: CompiledCondition;
  let queue: QueueConfig | null = null;
  if ('issues' in parsed) {
    issues.push({ object: `InferencePool ${key}`, issues: parsed.issues });
    config = lastGood[schedulerKey] ?? defaultSchedulerConfig();
    sched = { type: 'SchedulerConfigured', status: 'False', reason: 'InvalidAnnotations',
      message: `${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}. Running ${lastGood[schedulerKey] ? 'the last valid configuration' : 'the built-in default'} until fixed` };
  } else {
    config = parsed.config;
    engine = parsed.engine;
    queue = parsed.queue;
    sched = { type: 'SchedulerConfigured', status: 'True', reason: 'Configured', message: `scheduler from ${config.origin}${queue ? `; ${describeQueue(queue)}` : ''}` };
  }
  const endpoints = ready.map((p) => ({ pod: `${namespace}/${p.metadata.name}`, address: p.status!.podIP!, port }))
    .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  const readyCond: CompiledCondition = endpoints.length > 0
    ? { type: 'Ready', status: 'True', reason: 'EndpointsReady', message: `${endpoints.length}/${selected.length} selected pods ready` }
    : { type: 'Ready', status: 'False', reason: selected.length ? 'NoReadyEndpoints' : 'NoPodsSelected', message: selected.length ? `0/${selected.length} selected pods are Running and Ready` : `selector ${formatLabels(matchLabels)} selects no pod in namespace ${namespace}` };
  for (const c of [sched, readyCond]) if (gen !== undefined) c.observedGeneration = gen;
  return {
    compiled: { key, engine, protocol: 'http', retry: { attempts: DEFAULT_RETRY_ATTEMPTS, intervalMs: 100 }, pd: false, scheduler: schedulerKey, endpoints, ...(queue ? { queue } : {}) },
    config,
    status: { conditions: [readyCond, sched], readyEndpoints: endpoints.length, totalEndpoints: selected.length },
    issues,
  };
}
