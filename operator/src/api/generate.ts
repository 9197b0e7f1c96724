/**
 * Writes manifests/crds/ (kustomize) and the Helm chart's crds/ from the API types: the same files.
 *   node operator/src/api/generate.ts          write the files
 *   node operator/src/api/generate.ts --check  exit 1 if the committed files differ
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { renderCrds } from './crd.ts';

const repoRoot = join(import.meta.dirname, '../../..');
export const crdDirectory = join(repoRoot, 'manifests/crds');
export const chartCrdDirectory = join(repoRoot, 'charts/git-change-operator/crds');

function main(): void {
  const check = process.argv.includes('--check');
  const rendered = renderCrds();
  const stale: string[] = [];
  for (const directory of [crdDirectory, chartCrdDirectory]) {
    const name = relative(repoRoot, directory);
    mkdirSync(directory, { recursive: true });
    for (const [file, text] of rendered) {
      const path = join(directory, file);
      let current: string | undefined;
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        current = undefined;
      }
      if (current === text) continue;
      stale.push(join(name, file));
      if (!check) writeFileSync(path, text);
    }
    const extra = readdirSync(directory).filter(
      (f) => f.endsWith('.yaml') && !rendered.has(f) && f !== 'kustomization.yaml',
    );
    if (check) stale.push(...extra.map((f) => join(name, f)));
  }
  if (check && stale.length > 0) {
    console.error(`CRDs are out of date (${stale.join(', ')}): run \`npm run generate\`.`);
    process.exit(1);
  }
  console.log(check ? 'the CRDs are up to date.' : `wrote ${stale.length} CRD file(s)`);
}

if (import.meta.main) main();
