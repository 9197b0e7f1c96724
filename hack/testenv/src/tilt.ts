/** Tilt, and the registry its builds go through, built from Go modules by hack/build-tilt.sh (which owns the versions). */
import { join } from 'node:path';
import { repoRoot } from './paths.ts';
import { runOk } from './processes.ts';

export interface TiltBinaries {
  tilt: string;
  /** CNCF Distribution's `registry`. */
  registry: string;
}

/**
 * The binaries' paths. `npm test` builds them in setup; a run without setup builds them here (minutes,
 * once) rather than skipping, and fails with the script's reason (no Go, no gcc, no module proxy).
 */
export async function tiltBinaries(): Promise<TiltBinaries> {
  const out = await runOk('bash', [join(repoRoot, 'hack/build-tilt.sh')], { timeoutMs: 1_800_000 });
  const v = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  if (!v.TILT || !v.REGISTRY) throw new Error(`hack/build-tilt.sh printed no TILT= or REGISTRY= line:\n${out}`);
  return { tilt: v.TILT, registry: v.REGISTRY };
}
