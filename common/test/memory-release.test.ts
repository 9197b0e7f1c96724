import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Runs the module in a Node process of its own (V8's flags are per process): `body` runs with `release`
 * started (checks every 200 ms), then the process stays quiet for `quietMs` and prints what it saw.
 */
function child(
  flags: string[],
  body: string,
  quietMs: number,
): Promise<{ releases: number; log: Array<Record<string, unknown>>; busyEnded: number | null }> {
  const script = `
    import { createLogger } from '@gco/common/logger';
    import { startMemoryRelease } from '@gco/common/memory-release';
    import { Registry } from 'prom-client';
    const lines = [];
    const logger = createLogger({ level: 'debug', component: 'test', write: (l) => lines.push(l) });
    const registry = new Registry();
    const release = startMemoryRelease({ logger, registry, checkEveryMs: 200 });
    ${body}
    await new Promise((r) => setTimeout(r, ${quietMs}));
    release.stop();
    const metric = await registry.getSingleMetric('gco_memory_releases_total')?.get();
    const log = lines.map((l) => JSON.parse(l));
    console.log(JSON.stringify({ releases: metric?.values[0]?.value ?? 0, log, busyEnded: globalThis.busyEnded ?? null }));
  `;
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [...flags, '--input-type=module', '-e', script],
      { cwd: packageDir, timeout: 60_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  );
}

/** A burst: allocates ~100 MB in short-lived objects while keeping ~20 MB alive, then drops it all. */
const burst = `
  let keep = [];
  for (let i = 0; i < 300000; i++) {
    keep.push({ text: 'x'.repeat(64) + i, list: [i, i + 1], nested: { i } });
    if (keep.length > 100000) keep = keep.slice(50000);
  }
  keep = undefined;
`;

describe('memory release after a burst', function () {
  this.timeout(120_000);

  it('runs one full collection once the process is quiet after a burst, and gives memory back', async () => {
    const { releases, log } = await child(['--expose-gc'], burst, 1500);
    const released = log.filter((r) => r.message === 'memory released after a burst');
    assert.equal(releases, 1, JSON.stringify(log));
    assert.equal(released.length, 1);
    const [before, after] = String(released[0]?.heapAndExternalMb).split(' -> ').map(Number) as [number, number];
    assert.ok(after < before, `heap and external memory ${before} -> ${after} MB`);
  });

  it('does not collect while the process is busy, only once it has been quiet for a whole period', async () => {
    // Busy for ~1.5 s (the event loop never idles longer than one allocation-heavy turn), then quiet.
    const busy = `
      const until = Date.now() + 1500;
      let keep = [];
      const turn = () => { for (let i = 0; i < 20000; i++) keep.push({ s: 'y'.repeat(64) + i }); if (keep.length > 200000) keep = []; };
      await new Promise((resolve) => { const step = () => { turn(); if (Date.now() < until) setImmediate(step); else resolve(); }; step(); });
      globalThis.busyEnded = Date.now();
      keep = undefined;
    `;
    const { log, busyEnded } = await child(['--expose-gc'], busy, 1500);
    const released = log.filter((r) => r.message === 'memory released after a burst');
    assert.equal(released.length, 1, JSON.stringify(log));
    // The heap grew past the threshold within the first period, yet the one release came after the busy
    // loop ended: a quiet period is what starts it.
    assert.ok(busyEnded !== null);
    const at = Date.parse(String(released[0]?.time));
    assert.ok(at >= busyEnded, `released ${busyEnded - at} ms before the busy loop ended`);
  });

  it('without --expose-gc, says once how to enable it and does nothing', async () => {
    const { releases, log } = await child([], burst, 800);
    assert.equal(releases, 0);
    assert.deepEqual(
      log.map((r) => r.message),
      ['memory is not released after bursts: start Node with --expose-gc (the manifests do)'],
    );
  });
});
