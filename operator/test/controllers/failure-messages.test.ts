/**
 * Failures as users see them, in status and Events: an SSH host key the Secret does not list (with the
 * offered key's fingerprint), and a genuine internal error (a git that crashes, put first on the
 * sidecar's PATH), which is retried a bounded number of times and then stalls.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { crashingGit, generateSshKey, runOk, SshGitServer } from '@gco/testenv';
import {
  condition,
  type Environment,
  retryingWith,
  stalledWith,
  startEnvironment,
  tokenSecret,
  waitStatus,
} from '../support.ts';

const ns = 'failure-messages';

async function warnings(env: Environment, name: string): Promise<Array<{ reason: string; message: string }>> {
  const out = await env.kubectl([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    `involvedObject.name=${name}`,
    '-o',
    'json',
  ]);
  return (JSON.parse(out).items as Array<{ type: string; reason: string; message: string }>).filter(
    (e) => e.type === 'Warning',
  );
}

describe('GitCommit controller: failure messages and the internal-error bound', function () {
  this.timeout(300_000);
  let env: Environment;
  let ssh: SshGitServer;

  before(async function () {
    this.timeout(180_000);
    // Crashes `git cat-file` in clones of repositories named crash-*; every other repository works.
    const git = await crashingGit({ subcommand: 'cat-file', urlMarker: 'crash-' });
    env = await startEnvironment({ env: { PATH: git.path } });
    ssh = await new SshGitServer(join(env.root, 'repos')).start();
    await env.plane.ensureNamespace(ns);
    await env.apply(tokenSecret('git-credentials', ns));
  });
  after(async () => {
    await ssh?.stop();
    await env?.stop();
  });

  const gitCommit = (name: string, url: string, secretName: string) =>
    env.apply({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name, namespace: ns },
      spec: {
        repository: { url, branch: 'main' },
        auth: { secretName },
        commit: { author: 'Failures <f@example.com>', message: name },
        files: [{ path: `${name}.txt`, content: name }],
      },
    });

  it("stalls on a host key known_hosts does not list, showing the offered key's fingerprint", async () => {
    await env.repository('unknown-host.git', { files: 1 });
    const elsewhere = await generateSshKey(env.root, 'elsewhere');
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'ssh-elsewhere', namespace: ns },
      // A known_hosts for another host only: what a user has who copied the wrong line.
      stringData: {
        'ssh-privatekey': ssh.clientKey.privateKey,
        known_hosts: `git.example.com ${elsewhere.publicKey}\n`,
      },
    });
    await gitCommit('unknown-host', ssh.url('unknown-host.git'), 'ssh-elsewhere');
    const status = await waitStatus(env, 'gitcommit', 'unknown-host', stalledWith('HostKeyRejected'), ns);
    const fingerprint = /(SHA256:\S+)/.exec(
      await runOk('ssh-keygen', ['-l', '-f', '-'], { input: ssh.knownHosts }),
    )?.[1];
    const said = `Host key verification failed for [127.0.0.1]:${ssh.port}: known_hosts of Secret ${ns}/ssh-elsewhere has no ED25519 key for it (it offers the ED25519 key ${fingerprint}). Check that fingerprint against the one the server's administrators publish, then add the server's key line to known_hosts (ssh-keyscan -p ${ssh.port} 127.0.0.1 prints it)`;
    assert.equal(status.message, said);
    assert.equal(condition(status, 'Ready').reason, 'HostKeyRejected');
    assert.equal(status.retryCount ?? 0, 0, 'permanent: no retry');
    assert.deepEqual(
      (await warnings(env, 'unknown-host')).map((e) => [e.reason, e.message]),
      [['HostKeyRejected', said]],
    );
  });

  it('retries an internal error (a crashing git) 4 times, then stalls with InternalError, loudly', async () => {
    await env.repository('crash-repo.git', { files: 1 });
    await gitCommit('crashing', env.git.url('crash-repo.git'), 'git-credentials');
    const retrying = await waitStatus(env, 'gitcommit', 'crashing', retryingWith('InternalError'), ns);
    const crash =
      /^the git sidecar failed unexpectedly \(git cat-file was killed by SIGSEGV: .*\): this is likely a bug; the sidecar's log has the details/;
    assert.match(condition(retrying, 'Ready').message, crash);
    assert.match(condition(retrying, 'Ready').message, /\(retry 1 in 5s\)$/);
    // Default backoff: 5 + 10 + 20 + 40 s between the five attempts.
    const stalled = await waitStatus(env, 'gitcommit', 'crashing', stalledWith('InternalError'), ns, 200_000);
    const message = condition(stalled, 'Stalled').message as string;
    assert.match(message, /^gave up after 5 attempt\(s\) \(internal errors are retried 4 times at most\): /);
    assert.match(message.replace(/^gave up [^:]*: /, ''), crash);
    assert.equal(stalled.phase, 'Failed');
    assert.equal(stalled.retryCount, 4);
    assert.equal(stalled.executionHistory[0].attempts, 5);
    assert.equal(stalled.executionHistory[0].result, 'Failed');
    const events = await warnings(env, 'crashing');
    assert.ok(
      events.some((e) => e.reason === 'InternalError' && e.message === message),
      JSON.stringify(events),
    );
    // Loud in both processes: error lines, the sidecar's with the stack of where the crash was seen.
    const lines = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const operatorErrors = lines(await env.operator.logs()).filter(
      (l) => l.level === 'error' && l.message === 'execution failed with an internal error' && l.name === 'crashing',
    );
    assert.equal(operatorErrors.length, 5, 'one error line per attempt');
    const sidecarErrors = lines(await env.sidecar.logs()).filter(
      (l) => l.level === 'error' && l.message === 'job failed' && l.reason === 'INTERNAL',
    );
    assert.equal(sidecarErrors.length, 5);
    assert.match(String(sidecarErrors[0]?.stack), /SIGSEGV[\s\S]*\n\s+at /);
  });
});
