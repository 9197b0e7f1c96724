/**
 * The operator under many resources: N GitCommits (default 500) over 10 repositories, each exporting its
 * own ConfigMap, applied at once with kubectl. Measures the time until every one is Ready, what the
 * sidecar's batching made of the burst (pushes per commit), and the operator's and the sidecar's peak
 * memory, which size the manifests' requests and limits.
 *
 *   npm run bench -w @gco/operator                 # 500 resources
 *   GCO_BENCH_RESOURCES=2000 npm run bench -w @gco/operator
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ControlPlane,
  createBareRepository,
  GitHttpServer,
  runOk,
  startOperator,
  startSidecar,
  tempDir,
} from '@gco/testenv';
import { stringify } from 'yaml';
import { removeTempDirs } from '../../hack/testenv/src/temp.ts';

const resources = Number(process.env.GCO_BENCH_RESOURCES ?? 500);
const repositories = 10;
const namespace = 'bench';
const token = 'ghp_operator_bench_token_0123456789';

async function rssMb(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const plane = await ControlPlane.start();
const root = await tempDir('gco-operator-bench-');
try {
  await plane.ensureNamespace(namespace);
  for (let r = 0; r < repositories; r++) await createBareRepository(join(root, `repos/r${r}.git`), { files: 100 });
  const git = await new GitHttpServer({ root: join(root, 'repos'), auth: { tokens: [token] } }).start();
  const sidecar = await startSidecar({ args: ['--log-level=warn'] });
  const operator = await startOperator(plane, {
    sidecarSocket: sidecar.socketPath,
    args: [
      '--log-level=info',
      '--namespaces=bench',
      ...(process.env.GCO_BENCH_OPERATOR_ARGS ?? '').split(' ').filter(Boolean),
    ],
    // The heap a container's memory limit would give it (Node sizes its heap from the cgroup limit).
    env: process.env.GCO_BENCH_HEAP_MB ? { NODE_OPTIONS: `--max-old-space-size=${process.env.GCO_BENCH_HEAP_MB}` } : {},
  });
  const peaks = { operator: 0, sidecar: 0 };
  const sampler = setInterval(async () => {
    peaks.operator = Math.max(peaks.operator, await rssMb(operator.process.child.pid));
    peaks.sidecar = Math.max(peaks.sidecar, await rssMb(sidecar.process.child.pid));
  }, 100);
  const idleOperator = await rssMb(operator.process.child.pid);

  const docs: unknown[] = [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'git', namespace }, stringData: { token } },
  ];
  for (let i = 0; i < resources; i++) {
    docs.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `config-${i}`, namespace },
      data: { 'settings.yaml': `replicas: ${i % 7}\nname: config-${i}\n` },
    });
    docs.push({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name: `export-${i}`, namespace },
      spec: {
        repository: { url: git.url(`r${i % repositories}.git`), branch: 'main' },
        auth: { secretName: 'git' },
        commit: { author: 'Bench <bench@example.com>', message: `export ${i}` },
        resourceReferences: [
          {
            name: `config-${i}`,
            apiVersion: 'v1',
            kind: 'ConfigMap',
            strategy: 'dump',
            output: { path: `clusters/bench/config-${i}.yaml` },
          },
        ],
      },
    });
  }
  const pushesBefore = git.requests.filter((r) => r.service === 'git-receive-pack' && r.method === 'POST').length;
  const start = performance.now();
  const applied = await plane.kubectl(['apply', '--server-side', '-f', '-'], {
    input: docs.map((d) => stringify(d)).join('---\n'),
  });
  if (applied.code !== 0) throw new Error(applied.stderr);
  const appliedMs = performance.now() - start;
  let ready = 0;
  while (ready < resources) {
    const out = await plane.kubectl([
      'get',
      'gitcommits',
      '-n',
      namespace,
      '-o',
      'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    ]);
    ready = out.stdout.split('\n').filter((s) => s === 'True').length;
    if (performance.now() - start > 600_000) throw new Error(`only ${ready} of ${resources} Ready after 10 min`);
    if (ready < resources) await new Promise((r) => setTimeout(r, 250));
  }
  const allReadyMs = performance.now() - start;
  const pushes =
    git.requests.filter((r) => r.service === 'git-receive-pack' && r.method === 'POST').length - pushesBefore;
  let commits = 0;
  for (let r = 0; r < repositories; r++)
    commits +=
      Number(await runOk('git', ['--git-dir', join(root, `repos/r${r}.git`), 'rev-list', '--count', 'main'])) - 1;
  await new Promise((r) => setTimeout(r, 1000));
  const settledOperator = await rssMb(operator.process.child.pid);
  clearInterval(sampler);

  const rows = [
    [
      `${resources} GitCommits over ${repositories} repositories: applied with kubectl`,
      `${(appliedMs / 1000).toFixed(1)} s`,
    ],
    [
      '... all Ready (from the apply)',
      `${(allReadyMs / 1000).toFixed(1)} s (${((resources / allReadyMs) * 1000).toFixed(0)}/s)`,
    ],
    ['commits / pushes', `${commits} / ${pushes} (${(commits / Math.max(1, pushes)).toFixed(1)} commits per push)`],
    [
      'operator RSS: idle / peak / settled',
      `${idleOperator.toFixed(0)} / ${peaks.operator.toFixed(0)} / ${settledOperator.toFixed(0)} MB`,
    ],
    ['sidecar RSS peak', `${peaks.sidecar.toFixed(0)} MB`],
  ];
  console.log('\n| what | figure |\n|---|---|');
  for (const [what, figure] of rows) console.log(`| ${what} | ${figure} |`);
  await operator.stop();
  await sidecar.stop();
  await git.stop();
} finally {
  await plane.stop();
  await removeTempDirs();
}
