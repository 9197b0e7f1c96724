/**
 * Benchmarks of the git sidecar against the real smart-HTTP server, each beside the baseline the peers
 * use (a full clone into a temporary directory for every commit), measured in the same run.
 *
 *   npm run bench -w @gco/git-sidecar            # everything (about 5 minutes on 2 cores)
 *   GCO_BENCH_QUICK=1 npm run bench -w @gco/git-sidecar   # smaller repositories, for a smoke run
 *
 * Targets (issue 3): warm commit+push of one file into a 100k-file, 10k-commit repository p50 < 300 ms
 * and < 1.3x the 1k-file figure; a burst of 200 jobs pushed within 15 s; a cold blobless clone under
 * 3 s per 100 MB; sidecar RSS under 200 MB throughout.
 */
import { join } from 'node:path';
import { createSidecarClient, type SidecarClient } from '@gco/sidecar-api';
import {
  createBareRepository,
  GitHttpServer,
  generatedFilePath,
  manifestRuntimeEnv,
  OtlpReceiver,
  processMemory,
  removeTempDirs,
  runOk,
  startSidecar,
  TreePeakSampler,
  tempDir,
  useCompiledBuild,
} from '@gco/testenv';
import { commitRequest, tokenCredentials } from '@gco/testenv/sidecar';

// The sidecar runs as its image runs it: compiled (GCO_RUN_COMPILED=0: the sources).
await useCompiledBuild();
const quick = process.env.GCO_BENCH_QUICK === '1';
const token = 'ghp_bench_token';
const creds = tokenCredentials(token);

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const ms = (x: number) => `${x.toFixed(0)} ms`;

async function sizeMb(path: string): Promise<number> {
  return Number((await runOk('du', ['-sk', path])).split('\t')[0]) / 1024;
}

/** What the peers do: clone everything into a temporary directory, change one file, commit, push. */
async function fullCloneCommit(url: string, file: string, content: string): Promise<number> {
  const dir = await tempDir('gco-baseline-');
  const env = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
  };
  const start = performance.now();
  await runOk('git', ['clone', '-q', url, dir], { env, timeoutMs: 600_000 });
  await runOk('sh', ['-c', `printf '%s' "$1" > "$2"`, 'sh', content, join(dir, file)]);
  await runOk('git', ['-C', dir, '-c', 'user.name=B', '-c', 'user.email=b@example.com', 'commit', '-qam', 'baseline']);
  await runOk('git', ['-C', dir, 'push', '-q', 'origin', 'HEAD:main'], { env, timeoutMs: 600_000 });
  const elapsed = performance.now() - start;
  await runOk('rm', ['-rf', dir]);
  return elapsed;
}

/**
 * Warm commits of one changed file. Returns the end-to-end times and the sidecar's own share: the time
 * minus what the git server spent answering (its receive-pack walks the whole tree of the branch to check
 * connectivity, a cost that grows with the repository on any git server and is not the sidecar's).
 */
async function warmCommits(
  client: SidecarClient,
  server: GitHttpServer,
  url: string,
  files: number,
  iterations: number,
): Promise<{ total: number[]; own: number[]; server: number[] }> {
  const times: number[] = [];
  const own: number[] = [];
  const serverTimes: number[] = [];
  const phases: Record<string, number[]> = { fetch: [], build: [], push: [] };
  for (let i = 0; i <= iterations; i++) {
    const path = generatedFilePath((i * 37) % files);
    const requestsBefore = server.requests.length;
    const start = performance.now();
    const res = await client.commit(
      commitRequest({ url, credentials: creds, ops: [{ path, content: `bench ${i} ${Date.now()}\n` }] }),
    );
    const elapsed = performance.now() - start;
    if (!res.pushed) throw new Error('a benchmark commit was not pushed');
    if (i > 0) {
      // the first one warms the clone
      times.push(elapsed);
      const serverMs = server.requests.slice(requestsBefore).reduce((sum, r) => sum + r.ms, 0);
      serverTimes.push(serverMs);
      own.push(elapsed - serverMs);
      phases.fetch?.push(res.timings?.fetchMs ?? 0);
      phases.build?.push(res.timings?.buildMs ?? 0);
      phases.push?.push(res.timings?.pushMs ?? 0);
    }
  }
  console.log(
    `  phases (p50): ${Object.entries(phases)
      .map(([k, v]) => `${k} ${ms(percentile(v, 50))}`)
      .join(', ')}; the git server's answers ${ms(percentile(serverTimes, 50))}`,
  );
  return { total: times, own, server: serverTimes };
}

const rows: Array<[string, string, string, string]> = [];
const report = (what: string, ours: string, baseline: string, ratio: string) => {
  rows.push([what, ours, baseline, ratio]);
  console.log(`${what}: ${ours} (baseline ${baseline}, ${ratio})`);
};

const root = await tempDir('gco-bench-');
try {
  const shapes = quick
    ? {
        small: { files: 1_000, commits: 100 },
        large: { files: 20_000, commits: 1_000 },
        bytes: { files: 4_000, fileSize: 4096 },
      }
    : {
        small: { files: 1_000, commits: 1_000 },
        large: { files: 100_000, commits: 10_000 },
        bytes: { files: 40_000, fileSize: 4096 },
      };
  console.log('creating repositories...');
  await createBareRepository(join(root, 'repos/small.git'), shapes.small);
  await createBareRepository(join(root, 'repos/large.git'), shapes.large);
  await createBareRepository(join(root, 'repos/bytes.git'), { ...shapes.bytes, commits: 10 });
  for (const name of ['plain', 'traced'])
    await createBareRepository(join(root, `repos/trace-${name}.git`), shapes.small);
  const bytesRepoMb = await sizeMb(join(root, 'repos/bytes.git'));
  const server = await new GitHttpServer({ root: join(root, 'repos'), auth: { tokens: [token] } }).start();
  // With the manifests' NODE_OPTIONS and allocator settings, as users run it.
  const runtimeEnv = await manifestRuntimeEnv('git-sidecar');
  const sidecar = await startSidecar({ args: ['--log-level=warn'], env: runtimeEnv });
  const pid = sidecar.process.child.pid as number;
  // The sidecar with the git processes it runs: what its container's memory limit must hold (page cache aside).
  const tree = new TreePeakSampler(pid);
  let peakRss = 0;
  const peaks: Record<string, number> = {};
  const sampler = setInterval(async () => {
    peakRss = Math.max(peakRss, (await processMemory(pid)).rss);
  }, 50);
  const client = createSidecarClient({ socketPath: sidecar.socketPath });
  try {
    const iterations = quick ? 10 : 30;
    const smallRun = await warmCommits(client, server, server.url('small.git'), shapes.small.files, iterations);
    const largeRun = await warmCommits(client, server, server.url('large.git'), shapes.large.files, iterations);
    const small = smallRun.total;
    const large = largeRun.total;
    peaks.warm = peakRss;
    const baselineSmall = [await fullCloneCommit(server.url('small.git'), generatedFilePath(1), 'b1\n')];
    const baselineLarge: number[] = [];
    for (let i = 0; i < 3; i++)
      baselineLarge.push(await fullCloneCommit(server.url('large.git'), generatedFilePath(i), `b${i}\n`));
    const p50Small = percentile(small, 50);
    const p50Large = percentile(large, 50);
    report(
      `warm commit+push, ${shapes.small.files} files / ${shapes.small.commits} commits, p50 (p90)`,
      `${ms(p50Small)} (${ms(percentile(small, 90))})`,
      ms(percentile(baselineSmall, 50)),
      `${(percentile(baselineSmall, 50) / p50Small).toFixed(1)}x faster`,
    );
    report(
      `warm commit+push, ${shapes.large.files} files / ${shapes.large.commits} commits, p50 (p90)`,
      `${ms(p50Large)} (${ms(percentile(large, 90))})`,
      ms(percentile(baselineLarge, 50)),
      `${(percentile(baselineLarge, 50) / p50Large).toFixed(1)}x faster`,
    );
    report('large / small warm p50, end to end', `${(p50Large / p50Small).toFixed(2)}x`, '', 'target < 1.3x');
    const ownSmall = percentile(smallRun.own, 50);
    const ownLarge = percentile(largeRun.own, 50);
    report(
      "warm p50 without the git server's answers (the sidecar's own time), small / large",
      `${ms(ownSmall)} / ${ms(ownLarge)} = ${(ownLarge / ownSmall).toFixed(2)}x`,
      `server answers: ${ms(percentile(smallRun.server, 50))} / ${ms(percentile(largeRun.server, 50))}`,
      'target < 1.3x',
    );

    // A burst of 200 jobs to one branch.
    const burst = 200;
    const pushesBefore = server.requests.filter((r) => r.service === 'git-receive-pack' && r.method === 'POST').length;
    let start = performance.now();
    await Promise.all(
      Array.from({ length: burst }, (_, i) =>
        client.commit(
          commitRequest({
            url: server.url('small.git'),
            credentials: creds,
            ops: [{ path: `burst/${i}.txt`, content: `${i}\n` }],
          }),
          { timeoutMs: 120_000 },
        ),
      ),
    );
    const burstMs = performance.now() - start;
    peaks.burst = peakRss;
    const pushes =
      server.requests.filter((r) => r.service === 'git-receive-pack' && r.method === 'POST').length - pushesBefore;
    const sampleN = quick ? 3 : 10;
    const baselineBurst: number[] = [];
    for (let i = 0; i < sampleN; i++)
      baselineBurst.push(await fullCloneCommit(server.url('small.git'), generatedFilePath(i), `x${i}\n`));
    const baselineBurstMs = (baselineBurst.reduce((a, b) => a + b, 0) / sampleN) * burst;
    report(
      `burst of ${burst} jobs to one branch (${pushes} pushes)`,
      ms(burstMs),
      `${ms(baselineBurstMs)} (${sampleN} measured, times ${(burst / sampleN).toFixed(0)})`,
      `${(baselineBurstMs / burstMs).toFixed(0)}x faster`,
    );

    // Cold: the first job on a repository clones it (blobless) and commits.
    start = performance.now();
    await client.commit(
      commitRequest({
        url: server.url('bytes.git'),
        credentials: creds,
        ops: [{ path: generatedFilePath(5), content: 'cold\n' }],
      }),
      { timeoutMs: 600_000 },
    );
    const coldMs = performance.now() - start;
    peaks.cold = peakRss;
    const baselineCold = await fullCloneCommit(server.url('bytes.git'), generatedFilePath(6), 'cold\n');
    report(
      `cold first job (blobless clone + commit + push), ${bytesRepoMb.toFixed(0)} MB repository`,
      `${ms(coldMs)} = ${ms((coldMs / bytesRepoMb) * 100)} per 100 MB`,
      ms(baselineCold),
      `${(baselineCold / coldMs).toFixed(1)}x faster`,
    );
    await new Promise((r) => setTimeout(r, 200));
    report(
      'sidecar RSS, peak over the whole run',
      `${peakRss.toFixed(0)} MB (after warm commits ${peaks.warm?.toFixed(0)}, burst ${peaks.burst?.toFixed(0)}, cold ${peaks.cold?.toFixed(0)})`,
      '',
      'target < 200 MB',
    );
    tree.stop();
    report(
      'sidecar with its git processes, peak anonymous memory (sampled every 250 ms)',
      `${tree.peakAnonMb.toFixed(0)} MB (up to ${tree.peakProcesses} processes)`,
      '',
      '',
    );
    const clones = await sizeMb(join(sidecar.dataDir, 'clones'));
    report(
      'clones on disk after the run',
      `${clones.toFixed(1)} MB`,
      `${(await sizeMb(join(root, 'repos'))).toFixed(0)} MB served`,
      '',
    );

    // The cost of tracing: two fresh sidecars, one exporting every span (OTLP/HTTP with the SDK's
    // batching, to a local receiver) and one not, committing in turns to two identical repositories, so
    // that neither gets a warmer clone or a quieter machine.
    const receiver = await OtlpReceiver.start();
    const pair = {
      plain: await startSidecar({ args: ['--log-level=warn'], env: runtimeEnv }),
      traced: await startSidecar({
        args: ['--log-level=warn'],
        env: { ...runtimeEnv, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '200' },
      }),
    };
    try {
      const times: Record<keyof typeof pair, number[]> = { plain: [], traced: [] };
      for (let i = 0; i <= iterations; i++) {
        for (const name of ['plain', 'traced'] as const) {
          const client = createSidecarClient({ socketPath: pair[name].socketPath });
          const start = performance.now();
          await client.commit(
            commitRequest({
              url: server.url(`trace-${name}.git`),
              credentials: creds,
              ops: [{ path: generatedFilePath((i * 37) % shapes.small.files), content: `t ${i} ${Date.now()}\n` }],
            }),
          );
          if (i > 0) times[name].push(performance.now() - start);
        }
      }
      const [plain, traced] = [percentile(times.plain, 50), percentile(times.traced, 50)];
      await receiver.waitForSpans((all) => all.length >= iterations * 5, 10_000).catch(() => receiver.spans);
      report(
        `warm commit+push with every span exported, ${shapes.small.files} files, p50 (${receiver.spans.length} spans received)`,
        ms(traced),
        `not traced, in turns: ${ms(plain)}`,
        `${(((traced - plain) / plain) * 100).toFixed(0)}% difference`,
      );
    } finally {
      await pair.plain.stop();
      await pair.traced.stop();
      await receiver.close();
    }
  } finally {
    clearInterval(sampler);
    await sidecar.stop();
    await server.stop();
  }
  console.log('\n| what | git sidecar | full clone per commit | ratio |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
} finally {
  await removeTempDirs();
}
