/** Renders the generated CRDs as the YAML text committed under `crds/`. */
import yaml from 'js-yaml';
import { allCrds } from './crd';

/** File name → YAML text, with a header saying where it comes from. */
export function renderCrdFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, obj] of Object.entries(allCrds())) {
    out[file] = `# Generated from shared/api by \`npm run gen:crds\`. Do not edit by hand.\n---\n${yaml.dump(obj, { lineWidth: 120, noRefs: true })}`;
  }
  return out;
}
