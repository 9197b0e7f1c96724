/**
 * What the suite sees of a target, and what the targets share to offer it. Its own module, below both
 * `target.ts` (which chooses a target) and the targets, so that neither imports the other back.
 */

import assert from 'node:assert/strict';
import { type RunResult, run } from '@gco/testenv';

export interface E2ETarget {
  readonly name: 'local' | 'cluster';
  /** The real kubectl against the target's API server. */
  kubectl(args: string[], input?: string): Promise<RunResult>;
  /** A repository URL as the operator reaches it (what goes into a GitCommit). */
  operatorUrl(repository: string): string;
  /** The same repository as the suite reaches it. */
  suiteUrl(repository: string): string;
  /** The git server's token (also what the suite puts into credential Secrets). */
  readonly token: string;
  /** What to print when something did not happen: the operator's and the sidecar's last log lines. */
  diagnostics(): Promise<string>;
  stop(): Promise<void>;
}

export const operatorNamespace = 'git-change-operator-system';

/** kubectl with a kubeconfig; the binary is the one the harness builds unless KUBECTL names another. */
export function kubectlRunner(kubectlPath: string, kubeconfig: string) {
  return (args: string[], input?: string) =>
    run(kubectlPath, args, { input, env: { ...process.env, KUBECONFIG: kubeconfig }, timeoutMs: 180_000 });
}

export const joinUrl = (base: string, repository: string) => `${base.replace(/\/$/, '')}/${repository}`;

/** kubectl on a target that must succeed: its stdout, or a failure that shows the command and its stderr. */
export async function kubectlOk(target: E2ETarget, args: string[], input?: string): Promise<string> {
  const r = await target.kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
