/**
 * The local target: everything as processes on this machine, nothing from a container registry. The
 * git server is the same program the development cluster runs (hack/testenv/src/dev-git-server.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  freePort,
  repoRoot,
  sharedControlPlane,
  startOperator,
  startProcess,
  startSidecar,
  tempDir,
  waitFor,
} from '@gco/testenv';
import { type E2ETarget, joinUrl, kubectlRunner } from './e2e-target.ts';

export async function startLocalTarget(): Promise<E2ETarget> {
  const plane = await sharedControlPlane();
  const dir = await tempDir('gco-e2e-');
  const token = `gco-e2e-${crypto.randomUUID()}`;
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const port = await freePort();
  const gitLog = join(dir, 'git-server.log');
  const git = startProcess(
    join(repoRoot, 'node_modules/.bin/node'),
    [
      join(repoRoot, 'hack/testenv/src/dev-git-server.ts'),
      `--listen=127.0.0.1:${port}`,
      `--root=${join(dir, 'repos')}`,
      `--token-file=${tokenFile}`,
    ],
    gitLog,
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok === true, {
    timeoutMs: 30_000,
    describe: async () => `the development git server did not start (log: ${gitLog})`,
  });
  const sidecar = await startSidecar();
  const operator = await startOperator(plane, { sidecarSocket: sidecar.socketPath });
  return {
    name: 'local',
    token,
    kubectl: kubectlRunner(plane.kubectlPath, plane.kubeconfigPath),
    operatorUrl: (repository) => joinUrl(base, repository),
    suiteUrl: (repository) => joinUrl(base, repository),
    async diagnostics() {
      return `operator (${operator.logPath}):\n${(await operator.logs()).slice(-3000)}\nsidecar (${sidecar.logPath}):\n${(await sidecar.logs()).slice(-2000)}`;
    },
    async stop() {
      await operator.stop();
      await sidecar.stop();
      await git.stop();
    },
  };
}
