/**
 * What the harness runs for the operator and the sidecar: their TypeScript sources (Node strips the types
 * as it loads them), or, with GCO_RUN_COMPILED=1, the JavaScript the images run, compiled by
 * `npm run build` (hack/build.sh) into each package's dist/ and found through the `gco-compiled` export
 * condition. Benchmarks run the compiled form (useCompiledBuild): type stripping costs a process ~30 MB.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.ts';
import { runOk } from './processes.ts';

export const compiledCondition = 'gco-compiled';

const runCompiled = () => process.env.GCO_RUN_COMPILED === '1';

/** Node's arguments that start the process of `pkg`, before its own flags. */
export function entryPoint(pkg: 'operator' | 'git-sidecar'): string[] {
  if (!runCompiled()) return [join(repoRoot, pkg, 'src/main.ts')];
  const main = join(repoRoot, pkg, 'dist/main.js');
  if (!existsSync(main)) throw new Error(`${main} does not exist: run \`npm run build\` first (GCO_RUN_COMPILED=1)`);
  return [`--conditions=${compiledCondition}`, main];
}

/**
 * Compiles the packages afresh and has every process started from now on run the compiled JavaScript,
 * as the images do, unless GCO_RUN_COMPILED=0 asks for the sources. For benchmarks: what they measure
 * is what users run.
 */
export async function useCompiledBuild(): Promise<'compiled' | 'sources'> {
  if (process.env.GCO_RUN_COMPILED === '0') return 'sources';
  await runOk('bash', [join(repoRoot, 'hack/build.sh')], { timeoutMs: 300_000 });
  process.env.GCO_RUN_COMPILED = '1';
  return 'compiled';
}
