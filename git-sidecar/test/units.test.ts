import assert from 'node:assert/strict';
import { branchNameProblem } from '@gco/common/validation';
import { Failure_Reason as Reason } from '@gco/sidecar-api';
import {
  gitInvalidBranchNames,
  invalidRepositoryUrls,
  run,
  shadowingBranchNames,
  validBranchNames,
  validRepositoryUrls,
} from '@gco/testenv';
import { parseBytes, parseConfig } from '../src/config.ts';
import { redact } from '../src/credentials/credentials.ts';
import { SidecarError } from '../src/errors.ts';
import { validateBranch, validatePath } from '../src/jobs/validation.ts';
import { parseRemoteUrl } from '../src/store/remote-url.ts';

describe('git sidecar: units', () => {
  it('normalizes every spelling of a repository to one clone', () => {
    const keys = [
      'https://GitHub.com/Company/Repo.git',
      'https://github.com/Company/Repo',
      'https://github.com:443/Company/Repo/',
    ].map((u) => parseRemoteUrl(u, { allowFileUrls: false }).key);
    assert.equal(new Set(keys).size, 1);
    const ssh = [
      'git@github.com:company/repo.git',
      'ssh://git@github.com/company/repo',
      'ssh://git@github.com:22/company/repo.git',
    ];
    assert.equal(new Set(ssh.map((u) => parseRemoteUrl(u, { allowFileUrls: false }).normalized)).size, 1);
    assert.equal(parseRemoteUrl('git@github.com:company/repo.git', { allowFileUrls: false }).transport, 'ssh');
    assert.notEqual(
      parseRemoteUrl('https://github.com/a/b', { allowFileUrls: false }).key,
      parseRemoteUrl('https://github.com/a/c', { allowFileUrls: false }).key,
    );
  });

  it('refuses URLs with credentials, unknown schemes and file:// unless allowed', () => {
    for (const url of [
      'https://user:pw@github.com/a/b',
      'https://token@github.com/a/b',
      'ext::sh -c x',
      'ftp://h/x',
      'file:///tmp/x',
      '',
    ]) {
      assert.throws(
        () => parseRemoteUrl(url, { allowFileUrls: false }),
        (e: unknown) => e instanceof SidecarError && e.reason === Reason.INVALID_ARGUMENT,
        url,
      );
    }
    assert.equal(parseRemoteUrl('file:///tmp/x.git', { allowFileUrls: true }).transport, 'file');
  });

  it('parses exactly the repository URLs the CRD admits', () => {
    for (const url of validRepositoryUrls) parseRemoteUrl(url, { allowFileUrls: true });
    for (const url of invalidRepositoryUrls) {
      assert.throws(
        () => parseRemoteUrl(url, { allowFileUrls: true }),
        (e: unknown) => e instanceof SidecarError && e.reason === Reason.INVALID_ARGUMENT,
        url,
      );
    }
  });

  it('validates paths like the API contract', () => {
    for (const ok of ['a.txt', 'dir/sub/file.yaml', '.gitignore', 'a/.github/x', 'with space/ü.txt'])
      validatePath(ok, { maxPathBytes: 4096 });
    for (const bad of [
      '',
      '/a',
      'a/../b',
      './a',
      'a//b',
      'a/',
      '.git',
      '.GIT/config',
      'x/.git/y',
      'a\0b',
      'a\nb',
      'a\\b',
      'x'.repeat(4097),
    ]) {
      assert.throws(
        () => validatePath(bad, { maxPathBytes: 4096 }),
        (e: unknown) => e instanceof SidecarError && e.reason === Reason.INVALID_PATH,
        JSON.stringify(bad),
      );
    }
  });

  it('validates branch names like git check-ref-format --branch, and refuses names that shadow other refs', async () => {
    const git = async (name: string) => (await run('git', ['check-ref-format', '--branch', name])).code === 0;
    for (const name of validBranchNames) {
      assert.equal(branchNameProblem(name), undefined, name);
      assert.ok(await git(name), `git takes ${JSON.stringify(name)}`);
      validateBranch(name, 'branch');
    }
    for (const name of gitInvalidBranchNames) {
      assert.equal(await git(name), false, `git refuses ${JSON.stringify(name)}`);
      assert.throws(() => validateBranch(name, 'branch'), SidecarError, JSON.stringify(name));
    }
    for (const name of shadowingBranchNames) {
      assert.ok(await git(name), `git itself takes ${JSON.stringify(name)}`);
      assert.throws(
        () => validateBranch(name, 'branch'),
        (e: Error) => e instanceof SidecarError && /short branch name|HEAD/.test(e.message),
        JSON.stringify(name),
      );
    }
  });

  it('parses sizes, durations and flags, naming the flag in errors', () => {
    assert.equal(parseBytes('x', '10Gi'), 10 * 1024 ** 3);
    assert.equal(parseBytes('x', '1500'), 1500);
    assert.throws(() => parseBytes('disk-budget', 'lots'), /--disk-budget/);
    const config = parseConfig(['--socket=/tmp/s.sock', '--disk-budget=5Gi', '--git-timeout=30s'], {});
    assert.equal(config.diskBudgetBytes, 5 * 1024 ** 3);
    assert.equal(config.gitTimeoutMs, 30_000);
    assert.equal(parseConfig([], { GCO_SIDECAR_CONCURRENCY: '7' }).concurrency, 7);
    assert.throws(() => parseConfig(['--concurrency=0'], {}), /--concurrency/);
    assert.throws(() => parseConfig(['--no-such-flag'], {}));
    // Metrics on every interface by default (IPv6 and IPv4), a host when given, off with 0.
    assert.deepEqual(parseConfig([], {}).metricsAddress, { host: undefined, port: 8082 });
    assert.deepEqual(parseConfig(['--metrics-address=127.0.0.1:9'], {}).metricsAddress, { host: '127.0.0.1', port: 9 });
    assert.equal(parseConfig(['--metrics-address=0'], {}).metricsAddress, undefined);
    assert.throws(() => parseConfig(['--metrics-address=8082'], {}), /--metrics-address: expected \[host\]:port/);
  });

  it('redacts every secret from text', () => {
    assert.equal(
      redact('token abc123 and abc123 again, pw hunter22', ['abc123', 'hunter22']),
      'token [REDACTED] and [REDACTED] again, pw [REDACTED]',
    );
  });
});
