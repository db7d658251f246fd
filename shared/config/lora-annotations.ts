/**
 * Opt-in dynamic LoRA loading, from ModelServer annotations:
 *
 *     sluice.dev/lora-load: "enabled"                       # default disabled
 *     sluice.dev/lora-path-template: "/models/loras/{name}"  # default "{name}"
 *
 * When a request names an adapter that no endpoint of the server has loaded, the data plane asks
 * the chosen endpoint to load it (vLLM's `POST /v1/load_lora_adapter` with `lora_name` and
 * `lora_path` = the template with `{name}` replaced) before forwarding. vLLM must run with
 * `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`.
 */
import { type Issue } from '../api/validate';
import { annotationPath } from './queue-annotations';

/** The annotation keys. */
export const LORA_ANNOTATIONS = { load: 'sluice.dev/lora-load', pathTemplate: 'sluice.dev/lora-path-template' } as const;

/** The settings, or null when loading is not enabled. Problems go to `issues`. */
export function parseLoraAnnotations(annotations: Record<string, string>, issues: Issue[]): { pathTemplate: string } | null {
  const raw = annotations[LORA_ANNOTATIONS.load];
  const template = annotations[LORA_ANNOTATIONS.pathTemplate];
  let enabled = false;
  if (raw !== undefined) {
    if (raw.trim() === 'enabled') enabled = true;
    else if (raw.trim() !== 'disabled') issues.push({ path: annotationPath(LORA_ANNOTATIONS.load), message: `${LORA_ANNOTATIONS.load} must be enabled or disabled (got ${JSON.stringify(raw)})` });
  }
  if (template !== undefined && !template.includes('{name}')) {
    issues.push({ path: annotationPath(LORA_ANNOTATIONS.pathTemplate), message: `${LORA_ANNOTATIONS.pathTemplate} must contain {name}, replaced by the adapter's name, e.g. /models/loras/{name} (got ${JSON.stringify(template)})` });
  }
  if (template !== undefined && !enabled && raw === undefined) {
    issues.push({ path: annotationPath(LORA_ANNOTATIONS.pathTemplate), message: `${LORA_ANNOTATIONS.pathTemplate} only applies with ${LORA_ANNOTATIONS.load}: enabled; set that or remove this annotation` });
  }
  return enabled ? { pathTemplate: template ?? '{name}' } : null;
}
