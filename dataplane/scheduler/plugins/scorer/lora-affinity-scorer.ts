/**
 * lora-affinity-scorer (endpoint picker), also `lora-affinity` (Kthena). No parameters.
 *
 *   score_i = 1     the adapter is active on i (requests running or waiting for it: on a GPU slot)
 *           = 0     i does not list the adapter in /v1/models (it cannot serve it without a load)
 *           = 0.5   i has a free adapter slot (active + waiting adapters < maxLoras, or unknown max)
 *           = 0     otherwise: serving would evict another adapter
 *   base-model requests: 1 for every endpoint.
 *
 * As a filter (Kthena's lora-affinity in Filter.enabled) it keeps only the best tier present.
 * Stale endpoints score 0 for adapter requests.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { FilterPlugin, ScorerPlugin, SchedulingRequest } from '../../types';

/** Type name. */
export const LORA_AFFINITY_SCORER = 'lora-affinity-scorer';

/** The affinity tier of one endpoint for one adapter. */
export function loraTier(ep: Endpoint, lora: string): number {
  const m = ep.metrics;
  if (m.stale || !m.lora) return 0;
  if (m.lora.active.includes(lora) || m.lora.waiting.includes(lora)) return 1;
  if (m.lora.registered && !m.lora.registered.includes(lora)) return 0;
  let used = m.lora.active.length;
  for (const w of m.lora.waiting) if (!m.lora.active.includes(w)) used++;
  if (m.lora.maxLoras === null || used < m.lora.maxLoras) return 0.5;
  return 0;
}

/** Scores endpoints by adapter residency. */
export class LoraAffinityScorer implements ScorerPlugin, FilterPlugin {
  readonly type = LORA_AFFINITY_SCORER;
  constructor(readonly name: string) {}

  score(req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    const lora = req.lora;
    for (let i = 0; i < endpoints.length; i++) if (keep[i]) out[i] = lora === null ? 1 : loraTier(endpoints[i]!, lora);
  }

  filter(req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array): void {
    const lora = req.lora;
    if (lora === null) return;
    let best = 0;
    for (let i = 0; i < endpoints.length; i++) if (keep[i]) best = Math.max(best, loraTier(endpoints[i]!, lora));
    for (let i = 0; i < endpoints.length; i++) if (keep[i] && loraTier(endpoints[i]!, lora) < best) keep[i] = 0;
  }
}
