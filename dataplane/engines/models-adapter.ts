/**
 * LoRA adapters from an engine's `GET /v1/models`, and how they merge with the metrics' view.
 *
 * vLLM answers an OpenAI ModelList whose entries carry `parent`: null for the base model, the
 * base model's id for a LoRA adapter (vllm/entrypoints/openai/serving_models.py); SGLang does
 * the same for adapters loaded with --lora-paths or /load_lora_adapter. TGI lists its one model.
 * An entry counts as an adapter when `parent` is a non-empty string other than its own id.
 *
 * Merge rule (mergeLora): lora.active = running adapters from the metrics ∪ adapters loaded per
 * /v1/models. vLLM registers adapters in CPU memory and swaps them onto the GPU on demand, so
 * "loaded" is broader than "on a GPU slot"; but serving a loaded adapter costs a swap-in, not a
 * load from storage, and the metrics alone forget an adapter the moment its last request ends.
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
  if (!loaded || loaded.length === 0) return fromMetrics;
  if (!fromMetrics) return { active: loaded, waiting: [], maxLoras: null };
  let active: string[] | null = null;
  for (const name of loaded) {
    if (fromMetrics.active.includes(name)) continue;
    active ??= [...fromMetrics.active];
    active.push(name);
  }
  return active === null ? fromMetrics : { active, waiting: fromMetrics.waiting, maxLoras: fromMetrics.maxLoras };
}
