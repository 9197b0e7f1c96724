// No Docker engine here, so the Dockerfiles cannot be built. This test does what they do instead: it
// lays out a directory with exactly their COPY instructions, runs their `npm ci` line, and starts their
// ENTRYPOINT with Node 24, so a missing file or dependency in an image fails here.
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { freePort, repoRoot, run, startProcess, tempDir, waitFor } from '../src/index.ts';

async function layout(dockerfile: string): Promise<{ dir: string; entrypoint: string[] }> {
  const text = await readFile(join(repoRoot, dockerfile), 'utf8');
  const dir = await tempDir('gco-image-');
  let entrypoint: string[] = [];
  for (const line of text.split('\n')) {
    // Flags (--chown=...) change ownership only, which needs root to lay out: skipped.
    const copy = /^COPY (?!--from)(.+)$/.exec(line);
    if (copy) {
      const parts = (copy[1] as string)
        .trim()
        .split(/\s+/)
        .filter((p) => !p.startsWith('--'));
      const dest = parts.pop() as string;
      for (const src of parts) {
        const target =
          dest.endsWith('/') || parts.length > 1 ? join(dir, dest, src.split('/').pop() as string) : join(dir, dest);
        await mkdir(dirname(target), { recursive: true });
        await cp(join(repoRoot, src), dest === './' ? join(dir, src) : target, { recursive: true });
      }
    }
    const npm = /^RUN (npm ci .+)$/.exec(line);
    if (npm) {
      const args = (npm[1] as string).split(/\s+/).slice(1);
      const result = await run('npm', args, { cwd: dir, timeoutMs: 300_000 });
      assert.equal(result.code, 0, `${dockerfile}: npm ${args.join(' ')}\n${result.stderr}`);
    }
    const entry = /^ENTRYPOINT (\[.+\])$/.exec(line);
    if (entry) entrypoint = JSON.parse(entry[1] as string) as string[];
  }
  return { dir, entrypoint };
}

describe('container images (their layout, without Docker)', function () {
  this.timeout(600_000);
  const node = join(repoRoot, 'node_modules/.bin/node');

  it('git-sidecar/Dockerfile: the sidecar starts and serves from the image layout', async () => {
    const { dir, entrypoint } = await layout('git-sidecar/Dockerfile');
    assert.deepEqual(entrypoint.slice(0, 1), ['node']);
    const result = await run(
      'timeout',
      [
        '-s',
        'TERM',
        '3',
        node,
        ...entrypoint.slice(1),
        `--socket=${join(dir, 's.sock')}`,
        `--data-dir=${join(dir, 'data')}`,
        '--metrics-address=127.0.0.1:0',
      ],
      { cwd: dir, timeoutMs: 30_000 },
    );
    assert.match(result.stderr, /"serving"/);
    assert.match(result.stderr, /"stopped"/);
  });

  it('operator/Dockerfile: the operator loads every module from the image layout', async () => {
    const { dir, entrypoint } = await layout('operator/Dockerfile');
    const result = await run(node, [...entrypoint.slice(1), '--kubeconfig=/nonexistent'], {
      cwd: dir,
      timeoutMs: 30_000,
    });
    // It gets as far as reading the kubeconfig: every import resolved.
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--kubeconfig: ENOENT/);
  });

  it('hack/testenv/Dockerfile: the development git server starts, creates its repository and serves', async () => {
    const { dir, entrypoint } = await layout('hack/testenv/Dockerfile');
    await writeFile(join(dir, 'token'), 'image-test-token\n');
    const port = await freePort();
    const server = startProcess(
      node,
      [
        ...entrypoint.slice(1),
        `--listen=127.0.0.1:${port}`,
        `--root=${join(dir, 'data')}`,
        `--token-file=${join(dir, 'token')}`,
        '--repository=platform/cluster-config.git',
      ],
      join(dir, 'server.log'),
      { cwd: dir },
    );
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true, {
        timeoutMs: 30_000,
        describe: async () => `it did not start: ${await readFile(join(dir, 'server.log'), 'utf8')}`,
      });
      const refs = await fetch(
        `http://127.0.0.1:${port}/platform/cluster-config.git/info/refs?service=git-upload-pack`,
        {
          headers: { authorization: `Basic ${Buffer.from('x:image-test-token').toString('base64')}` },
        },
      );
      assert.equal(refs.status, 200, 'the --repository exists and is served');
      const anonymous = await fetch(
        `http://127.0.0.1:${port}/platform/cluster-config.git/info/refs?service=git-upload-pack`,
      );
      assert.equal(anonymous.status, 401, 'the token is required');
    } finally {
      await server.stop();
    }
  });
});
