/**
 * Writes manifests/crds/ from the API types.
 *   node operator/src/api/generate.ts          write the files
 *   node operator/src/api/generate.ts --check  exit 1 if the committed files differ
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrds } from './crd.ts';

export const crdDirectory = join(import.meta.dirname, '../../../manifests/crds');

function main(): void {
  const check = process.argv.includes('--check');
  const rendered = renderCrds();
  mkdirSync(crdDirectory, { recursive: true });
  const stale: string[] = [];
  for (const [name, text] of rendered) {
    const path = join(crdDirectory, name);
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    stale.push(name);
    if (!check) writeFileSync(path, text);
  }
  const extra = readdirSync(crdDirectory).filter(
    (f) => f.endsWith('.yaml') && !rendered.has(f) && f !== 'kustomization.yaml',
  );
  if (check && (stale.length > 0 || extra.length > 0)) {
    console.error(`manifests/crds is out of date (${[...stale, ...extra].join(', ')}): run \`npm run generate\`.`);
    process.exit(1);
  }
  console.log(check ? 'manifests/crds is up to date.' : `wrote ${stale.length} CRD file(s) to manifests/crds`);
}

if (import.meta.main) main();
