/**
 * Writes `crds/*.yaml`, and `crds/Kustomization` that lists them for `manifests/base`, from the
 * schemas in `shared/api`. Run with `npm run gen:crds`; the test `shared/api/crd.test.ts` fails
 * when the committed files differ from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from '../shared/api/crd-render';

const dir = join(__dirname, '..', '..', 'crds');
for (const [file, text] of Object.entries(renderCrdFiles())) {
  writeFileSync(join(dir, file), text);
  console.log(`wrote crds/${file}`);
}
