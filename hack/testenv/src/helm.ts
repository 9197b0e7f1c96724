/** helm for the chart's tests, built from Go modules by hack/build-helm.sh, which owns the version. */
import { join } from 'node:path';
import { repoRoot } from './paths.ts';
import { runOk } from './processes.ts';

/**
 * The helm binary's path. `npm test` builds it in setup; a run without setup builds it here (minutes,
 * once) rather than skipping, and fails with the script's reason (no Go, no module proxy).
 */
export async function helmBinary(): Promise<string> {
  if (process.env.GCO_HELM) return process.env.GCO_HELM;
  const out = await runOk('bash', [join(repoRoot, 'hack/build-helm.sh')], { timeoutMs: 1_800_000 });
  return out.trim();
}
