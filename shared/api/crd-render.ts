/** Renders the generated files committed under `crds/`: the CRDs as YAML, and their Kustomization. */
import yaml from 'js-yaml';
import { allCrds } from './crd';

/**
 * The kustomization that lets `manifests/base` (and any overlay) take the CRDs straight from
 * `crds/`: kustomize refuses a resource file outside the kustomization's own folder, but accepts
 * another folder that holds a kustomization. It is named `Kustomization`, one of the three names
 * kustomize recognises, because `kubectl apply -f crds/` reads every `*.yaml` in the folder and
 * would try to create a `kustomization.yaml` as an object.
 */
export const CRD_KUSTOMIZATION_FILE = 'Kustomization';

/** File name → text, each with a header saying where it comes from. */
export function renderCrdFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  const header = '# Generated from shared/api by `npm run gen:crds`. Do not edit by hand.\n';
  for (const [file, obj] of Object.entries(allCrds())) {
    out[file] = `${header}---\n${yaml.dump(obj, { lineWidth: 120, noRefs: true })}`;
  }
  out[CRD_KUSTOMIZATION_FILE] = `${header}# Named Kustomization (not kustomization.yaml) so that \`kubectl apply -f crds/\` still applies
# only the CRDs; \`kubectl apply -k crds\` and manifests/base use this file.
${yaml.dump({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: Object.keys(allCrds()) }, { lineWidth: 120 })}`;
  return out;
}
