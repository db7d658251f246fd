/** Helpers for scheduler unit tests: endpoints without pools, seeded randomness, requests. */
import type { Pool } from 'undici';
import { Value } from '@sinclair/typebox/value';
import { lookupPluginType } from '../../shared/config/plugin-catalog';
import { unknownMetrics, type EngineMetrics } from '../engines/engine-metrics';
import { Endpoint } from '../proxy/endpoint-registry';
import { PrefixHashes } from './prefix-hashes';
import { PrefixIndex } from './prefix-index';
import type { PluginEnv, Random, SchedulingRequest } from './types';

/** A deterministic PRNG (mulberry32). */
export function seeded(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An endpoint with the given metrics, for tests (no connection pool). */
export function endpoint(id: number, metrics: Partial<EngineMetrics> = {}, inFlight = 0): Endpoint {
  const ep = new Endpoint(id, `default/pod-${id}`, `http://127.0.0.1:${9000 + id}`, 'vLLM', null as unknown as Pool);
  ep.metrics = { ...unknownMetrics(), stale: false, scrapedAt: 1, ...metrics };
  ep.inFlight = inFlight;
  return ep;
}

/** A request for `model` with `prompt`. */
export function request(prompt = '', lora: string | null = null, model = 'm'): SchedulingRequest {
  return { model, lora, hashes: new PrefixHashes(prompt) };
}

/** A plugin environment with its own prefix indexes. */
export function env(random: Random = seeded(1)): PluginEnv {
  const indexes = new Map<number, PrefixIndex>();
  return {
    random,
    prefixIndex(blockSize) {
      let idx = indexes.get(blockSize);
      if (!idx) {
        idx = new PrefixIndex(31250);
        indexes.set(blockSize, idx);
      }
      return idx;
    },
  };
}

/** The catalog's default parameters for a type. */
export function defaults(type: string): Record<string, unknown> {
  return Value.Default(lookupPluginType(type)!.parameters, {}) as Record<string, unknown>;
}
