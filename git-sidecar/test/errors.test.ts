import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Failure_Category as Category,
  createSidecarClient,
  type Failure,
  failureOf,
  Failure_Reason as Reason,
  type SidecarClient,
} from '@gco/sidecar-api';
import {
  crashingGit,
  createBareRepository,
  fileAt,
  GitHttpServer,
  generateSshKey,
  runOk,
  type SidecarProcess,
  SshGitServer,
  startSidecar,
  tempDir,
} from '@gco/testenv';
import { basicCredentials, commitRequest, expectFailure, sshCredentials, tokenCredentials } from '@gco/testenv/sidecar';

const token = 'ghp_errors_test_token_0123456789';
const wrongToken = 'ghp_errors_wrong_token_9876543210';
const password = 'errors-basic-pw-4242';
const wrongPassword = 'errors-wrong-pw-7777';
const origin = 'Secret team-a/git-credentials';

/** The fingerprint ssh-keygen prints for a known_hosts line's key (the test's own reading, not the sidecar's). */
async function fingerprint(knownHostsLine: string): Promise<string> {
  const out = await runOk('ssh-keygen', ['-l', '-f', '-'], { input: `${knownHostsLine}\n` });
  return /(SHA256:\S+)/.exec(out)?.[1] ?? assert.fail(`no fingerprint in ${out}`);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** git's words the sidecar used to pass on as they were. */
const gitNoise = /askpass|terminal prompts disabled|could not read Username|Could not read from remote repository/;

describe('git sidecar: failures say what failed and what to do', function () {
  this.timeout(120_000);
  let root: string;
  let http: GitHttpServer;
  let ssh: SshGitServer;
  let sidecar: SidecarProcess;
  let client: SidecarClient;
  const messages: string[] = [];

  before(async () => {
    root = await tempDir();
    http = await new GitHttpServer({
      root: join(root, 'repos'),
      auth: { tokens: [token], users: { robot: password } },
    }).start();
    ssh = await new SshGitServer(join(root, 'repos')).start();
    for (const name of ['r.git', 'crash-r.git', 'fine.git']) {
      await createBareRepository(join(root, 'repos', name), { files: 2 });
    }
    // A git whose `cat-file` crashes in clones of repositories named crash-*: a bug, as the sidecar sees one.
    const git = await crashingGit({ subcommand: 'cat-file', urlMarker: 'crash-' });
    sidecar = await startSidecar({ env: { PATH: git.path } });
    client = createSidecarClient({ socketPath: sidecar.socketPath });
  });
  after(async () => {
    await sidecar?.stop();
    await ssh?.stop();
    await http?.stop();
  });

  /** Runs a job expected to fail with `reason`; answers its Failure, whose message is also the call's. */
  async function failure(request: Parameters<typeof commitRequest>[0], reason: Reason): Promise<Failure> {
    const error = await expectFailure(client.commit(commitRequest(request)), reason);
    const detail = failureOf(error) as Failure;
    assert.equal(detail.message, (error as { rawMessage?: string }).rawMessage, 'one message');
    assert.doesNotMatch(detail.message, gitNoise);
    messages.push(detail.message);
    return detail;
  }
  const ops = [{ path: 'x.txt', content: 'x' }];

  it('HTTP: names the host that rejected which credentials, and what to do', async () => {
    const url = http.url('r.git');
    const host = new URL(url).host;
    const wrong = await failure(
      { url, credentials: tokenCredentials(wrongToken, origin), ops },
      Reason.AUTHENTICATION_REJECTED,
    );
    assert.equal(wrong.category, Category.PERMANENT);
    assert.equal(
      wrong.message,
      `${host} rejected the token of ${origin} for ${url} (HTTP 401): replace it with a valid token that may push to this repository`,
    );
    const basic = await failure(
      { url, credentials: basicCredentials('robot', wrongPassword, origin), ops },
      Reason.AUTHENTICATION_REJECTED,
    );
    assert.match(basic.message, new RegExp(`^${host} rejected the username and password of ${origin} for `));
    const none = await failure({ url, ops }, Reason.AUTHENTICATION_REJECTED);
    assert.equal(
      none.message,
      `${host} requires credentials for ${url} (HTTP 401) and none were given: give a token, or a username and password, that may push to this repository`,
    );
  });

  it('SSH: names the host that rejected which key', async () => {
    const stranger = await generateSshKey(root, 'stranger');
    const url = ssh.url('r.git');
    const rejected = await failure(
      { url, credentials: sshCredentials(stranger.privateKey, ssh.knownHosts, origin), ops },
      Reason.AUTHENTICATION_REJECTED,
    );
    assert.equal(
      rejected.message,
      `[127.0.0.1]:${ssh.port} rejected the SSH key of ${origin} for ${url} (permission denied: publickey): add its public key to the server (for example as a deploy key with write access to this repository), or give a key the server accepts`,
    );
  });

  it('an unknown host key: the fingerprint of the key the server offers, and how to add it', async () => {
    const offered = await fingerprint(ssh.knownHosts);
    const unknown = await failure(
      { url: ssh.url('r.git'), credentials: sshCredentials(ssh.clientKey.privateKey, '', origin), ops },
      Reason.HOST_KEY_REJECTED,
    );
    assert.equal(unknown.category, Category.PERMANENT);
    assert.equal(
      unknown.message,
      `Host key verification failed for [127.0.0.1]:${ssh.port}: known_hosts of ${origin} has no ED25519 key for it (it offers the ED25519 key ${offered}). Check that fingerprint against the one the server's administrators publish, then add the server's key line to known_hosts (ssh-keyscan -p ${ssh.port} 127.0.0.1 prints it)`,
    );
  });

  it('a changed host key: the fingerprint of the key the server offered instead', async () => {
    const impostor = await generateSshKey(root, 'impostor-host');
    const changed = await failure(
      {
        url: ssh.url('r.git'),
        credentials: sshCredentials(ssh.clientKey.privateKey, ssh.knownHostsWithKey(impostor.publicKey), origin),
        ops,
      },
      Reason.HOST_KEY_REJECTED,
    );
    assert.equal(
      changed.message,
      `Host key verification failed for [127.0.0.1]:${ssh.port}: it offered the ED25519 key ${await fingerprint(ssh.knownHosts)}, not the key known_hosts of ${origin} lists for it. If the server's key was replaced, put its new key line in known_hosts; if not, something else is answering in the server's place: do not trust it`,
    );
    assert.ok(!changed.message.includes(await fingerprint(ssh.knownHostsWithKey(impostor.publicKey))));
  });

  it('a repository that does not exist, over HTTP and SSH', async () => {
    const url = http.url('missing.git');
    const overHttp = await failure(
      { url, credentials: tokenCredentials(token, origin), ops },
      Reason.REPOSITORY_NOT_FOUND,
    );
    assert.equal(
      overHttp.message,
      `${new URL(url).host} has no repository ${url}, or the credentials of ${origin} may not see it (HTTP 404): check the URL, and that the credentials may read this repository`,
    );
    const sshUrl = ssh.url('missing.git');
    const overSsh = await failure(
      { url: sshUrl, credentials: sshCredentials(ssh.clientKey.privateKey, ssh.knownHosts, origin), ops },
      Reason.REPOSITORY_NOT_FOUND,
    );
    assert.match(
      overSsh.message,
      new RegExp(
        `^${escapeRegExp(`[127.0.0.1]:${ssh.port} has no repository ${sshUrl}, or the credentials of ${origin} may not see it ('`)}.*${escapeRegExp("missing.git' does not appear to be a git repository): check the URL")}`,
      ),
    );
  });

  it("a push the server's hook refuses: what it said, and where to look", async () => {
    const gitDir = join(root, 'repos', 'guarded.git');
    await createBareRepository(gitDir, { files: 1 });
    const hook = join(gitDir, 'hooks', 'pre-receive');
    await mkdir(join(gitDir, 'hooks'), { recursive: true });
    await writeFile(hook, '#!/bin/sh\necho "main is protected: changes go through review"\nexit 1\n', { mode: 0o755 });
    const refused = await failure(
      { url: http.url('guarded.git'), credentials: tokenCredentials(token, origin), ops },
      Reason.PUSH_REJECTED,
    );
    assert.equal(refused.category, Category.PERMANENT);
    assert.equal(
      refused.message,
      "the server refused the push to main (pre-receive hook declined: main is protected: changes go through review): see the server's rules for this branch (protected branch, required reviews, hooks), or write to another branch",
    );
  });

  it('a crashing git is INTERNAL: said to be a bug, logged as an error with its stack; other repositories go on', async () => {
    const crash = await failure(
      { url: http.url('crash-r.git'), credentials: tokenCredentials(token, origin), ops },
      Reason.INTERNAL,
    );
    assert.equal(crash.category, Category.INTERNAL);
    assert.match(
      crash.message,
      /^the git sidecar failed unexpectedly \(git cat-file was killed by SIGSEGV: .*\): this is likely a bug; the sidecar's log has the details/,
    );
    const logged = (await sidecar.logs())
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'job failed' && l.reason === 'INTERNAL');
    assert.ok(logged, 'the failure is in the log');
    assert.equal(logged.level, 'error');
    assert.match(String(logged.stack), /SIGSEGV[\s\S]*\n\s+at /, 'with the stack of where it was seen');
    const fine = await client.commit(
      commitRequest({ url: http.url('fine.git'), credentials: tokenCredentials(token, origin), ops }),
    );
    assert.equal(fine.pushed, true);
    assert.equal(await fileAt(join(root, 'repos', 'fine.git'), 'main', 'x.txt'), 'x');
  });

  it('puts no credential in any message or log line', async () => {
    assert.ok(messages.length >= 10, `${messages.length} messages checked`);
    const keyBody = ssh.clientKey.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'))[1] ?? '';
    assert.ok(keyBody.length > 20);
    const logs = await sidecar.logs();
    const header = (user: string, secret: string) => Buffer.from(`${user}:${secret}`).toString('base64');
    const secrets = [token, wrongToken, wrongPassword, header('x-access-token', token), header('robot', wrongPassword)];
    for (const secret of [...secrets, keyBody]) {
      for (const m of messages) assert.ok(!m.includes(secret), `${secret.slice(0, 6)}… in: ${m}`);
      assert.ok(!logs.includes(secret), `${secret.slice(0, 6)}… in the log`);
    }
  });
});
