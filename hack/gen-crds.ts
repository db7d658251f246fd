/**
 * Writes `crds/*.yaml`, and `crds/Kustomization` that lists them for `manifests/base`, from the
 * schemas in `shared/api`, and copies the CRDs into the Helm chart (`charts/sluice/crds/`, where
 * Helm installs CRDs from). Run with `npm run gen:crds`; `shared/api/crd.test.ts` fails when the
 * committed crds/ differ from what this writes, `test/helm-chart.test.ts` when the chart's copies
 * differ from crds/.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from '../shared/api/crd-render';

const root = join(__dirname, '..', '..');
for (const [file, text] of Object.entries(renderCrdFiles())) {
  writeFileSync(join(root, 'crds', file), text);
  console.log(`wrote crds/${file}`);
  // The chart takes the CRDs only: Helm would try to apply the Kustomization as a manifest.
  if (file.endsWith('.yaml')) {
    writeFileSync(join(root, 'charts', 'sluice', 'crds', file), text);
    console.log(`wrote charts/sluice/crds/${file}`);
  }
}
