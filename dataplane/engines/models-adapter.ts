/**
 * LoRA adapters from an engine's `GET /v1/models`, and how they merge with the metrics' view.
 *
 * vLLM answers an OpenAI ModelList whose entries carry `parent`: null for the base model, the
 * base model's id for a LoRA adapter (vllm/entrypoints/openai/serving_models.py); SGLang does
 * the same for adapters loaded with --lora-paths or /load_lora_adapter. TGI lists its one model.
 * An entry counts as an adapter when `parent` is a non-empty string other than its own id.
 *
 * Merge rule (mergeLora): lora.registered = the adapters /v1/models lists (what the engine can
 * serve at all); lora.active = the running adapters from the metrics (what sits on a GPU slot
 * now), or, for an engine without LoRA metrics, the registered ones. vLLM registers adapters in
 * CPU memory and moves them onto its `max_loras` GPU slots on demand, evicting by LRU, so a pod
 * that registers all sixteen adapters of a fleet holds only four of them at a time: counting every
 * registered adapter as active would make every pod look equally good for every adapter.
 * waiting and maxLoras come from the metrics only.
 */
import type { LoraState } from './engine-metrics';

/** What one /v1/models body lists. */
export interface ModelList {
  /** Entries without a parent: the served (base) model names. */
  readonly models: readonly string[];
  /** LoRA adapter names (entries with a parent). */
  readonly adapters: readonly string[];
}

/** Parses a /v1/models body (text or already-parsed JSON); null when it is not a ModelList. */
export function parseModelList(body: unknown): ModelList | null {
  let doc = body;
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch {
      return null;
    }
  }
  if (typeof doc !== 'object' || doc === null) return null;
  const data = (doc as { data?: unknown }).data;
  if (!Array.isArray(data)) return null;
  const models: string[] = [];
  const adapters: string[] = [];
  for (const entry of data) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { id, parent } = entry as { id?: unknown; parent?: unknown };
    if (typeof id !== 'string' || !id) continue;
    const list = typeof parent === 'string' && parent !== '' && parent !== id ? adapters : models;
    if (!list.includes(id)) list.push(id);
  }
  return { models, adapters };
}

/**
 * Merges the LoRA state read from the metrics with the adapters /v1/models lists (null when it
 * was never fetched or failed). Null only when neither source knows of LoRA.
 */
export function mergeLora(fromMetrics: LoraState | null, loaded: readonly string[] | null): LoraState | null {
  if (!loaded) return fromMetrics;
  // /v1/models answered without adapters: the pod serves none it has not been given.
  if (loaded.length === 0) return fromMetrics && { ...fromMetrics, registered: loaded };
  if (!fromMetrics) return { active: loaded, waiting: [], maxLoras: null, registered: loaded };
  return { active: fromMetrics.active, waiting: fromMetrics.waiting, maxLoras: fromMetrics.maxLoras, registered: loaded };
}
