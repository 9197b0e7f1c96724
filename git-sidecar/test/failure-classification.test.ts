/**
 * The sidecar's error tables, without a server: every reason has a category and a gRPC code, and git's
 * words as hosting services and networks produce them (which the test servers here cannot all make:
 * GitHub's, GnuTLS's, DNS's) are classified and explained as users should read them.
 */
import assert from 'node:assert/strict';
import { Failure_Category as Category, Failure_Reason as Reason } from '@gco/sidecar-api';
import { tokenCredentials } from '@gco/testenv/sidecar';
import { asSidecarError, categories, classifyRemoteFailure, connectCodes, SidecarError } from '../src/errors.ts';
import { explainFailure } from '../src/failure-messages.ts';
import { GitCommandError, type GitResult } from '../src/git/command.ts';

const failed = (stderr: string, result: Partial<GitResult> = {}) =>
  new GitCommandError(['fetch', 'origin'], {
    code: 128,
    signal: null,
    stdout: Buffer.alloc(0),
    stderr,
    timedOut: false,
    ...result,
  });

const github = { url: 'https://github.com/company/repo.git', origin: 'https://github.com', transport: 'http' as const };

describe('git sidecar: error tables', () => {
  it('gives every reason a category and a gRPC code', () => {
    for (const reason of Object.values(Reason).filter((v): v is Reason => typeof v === 'number')) {
      assert.ok(categories[reason] !== undefined, `${Reason[reason]} has a category`);
      assert.ok(connectCodes[reason] !== undefined, `${Reason[reason]} has a code`);
      assert.equal(new SidecarError(reason, 'x').category, categories[reason]);
    }
    assert.equal(categories[Reason.INTERNAL], Category.INTERNAL);
    assert.equal(categories[Reason.UNSPECIFIED], Category.INTERNAL, 'an unset reason is a bug');
  });

  it("classifies remote git failures from git's, ssh's and the servers' words", () => {
    const cases: Array<[string, Reason]> = [
      [
        "remote: Invalid username or token. Password authentication is not supported for Git operations.\nfatal: Authentication failed for 'https://github.com/company/repo.git/'",
        Reason.AUTHENTICATION_REJECTED,
      ],
      [
        "remote: Permission to company/repo.git denied to robot.\nfatal: unable to access 'https://github.com/company/repo.git/': The requested URL returned error: 403",
        Reason.AUTHENTICATION_REJECTED,
      ],
      [
        'git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.',
        Reason.AUTHENTICATION_REJECTED,
      ],
      ['ERROR: Repository not found.\nfatal: Could not read from remote repository.', Reason.REPOSITORY_NOT_FOUND],
      [
        "remote: Repository not found.\nfatal: repository 'https://github.com/company/nope.git/' not found",
        Reason.REPOSITORY_NOT_FOUND,
      ],
      [
        "fatal: unable to access 'https://git.example.com/r.git/': server certificate verification failed. CAfile: none CRLfile: none",
        Reason.CERTIFICATE_REJECTED,
      ],
      ['Host key verification failed.\nfatal: Could not read from remote repository.', Reason.HOST_KEY_REJECTED],
      [
        "fatal: unable to access 'https://github.com/company/repo.git/': Could not resolve host: github.com",
        Reason.UNAVAILABLE,
      ],
      [
        "fatal: unable to access 'https://github.com/company/repo.git/': The requested URL returned error: 502",
        Reason.UNAVAILABLE,
      ],
      [
        'error: RPC failed; curl 56 GnuTLS recv error (-9): Error decoding the received TLS packet.\nfatal: early EOF',
        Reason.UNAVAILABLE,
      ],
      ['something no one has seen before', Reason.UNAVAILABLE],
    ];
    for (const [stderr, reason] of cases) {
      assert.equal(classifyRemoteFailure(failed(stderr), 'fetching branch main').reason, reason, stderr);
    }
    assert.equal(classifyRemoteFailure(failed('', { timedOut: true, code: null }), 'x').reason, Reason.TIMEOUT);
    const crashed = classifyRemoteFailure(failed('', { code: null, signal: 'SIGSEGV' }), 'fetching branch main');
    assert.equal(crashed.reason, Reason.INTERNAL);
    assert.match(crashed.message, /git was killed by SIGSEGV/);
  });

  it("explains GitHub's and the network's words for users", async () => {
    const explain = async (stderr: string, credentials = tokenCredentials('t', 'Secret team-a/git')) =>
      (
        await explainFailure(classifyRemoteFailure(failed(stderr), 'fetching branch main'), {
          remote: github,
          credentials,
        })
      ).message;
    assert.equal(
      await explain(
        "remote: Invalid username or token. Password authentication is not supported for Git operations.\nfatal: Authentication failed for 'https://github.com/company/repo.git/'",
      ),
      'github.com rejected the token of Secret team-a/git for https://github.com/company/repo.git (HTTP 401; the server said: "Invalid username or token. Password authentication is not supported for Git operations."): replace it with a valid token that may push to this repository',
    );
    assert.match(
      await explain(
        "remote: Permission to company/repo.git denied to robot.\nfatal: unable to access 'https://github.com/company/repo.git/': The requested URL returned error: 403",
      ),
      /^github\.com refused https:\/\/github\.com\/company\/repo\.git to the token of Secret team-a\/git \(HTTP 403; the server said: "Permission to company\/repo\.git denied to robot\."\): give that token write access/,
    );
    assert.equal(
      await explain(
        "fatal: unable to access 'https://github.com/company/repo.git/': Could not resolve host: github.com",
      ),
      'could not resolve the host name github.com of https://github.com/company/repo.git: check the URL, and the DNS the sidecar uses',
    );
    assert.equal(
      await explain(
        "fatal: unable to access 'https://github.com/company/repo.git/': The requested URL returned error: 502",
      ),
      'github.com answered HTTP 502 while fetching branch main: the server failed',
    );
    assert.match(
      await explain(
        "fatal: unable to access 'https://github.com/company/repo.git/': server certificate verification failed. CAfile: none CRLfile: none",
      ),
      /^github\.com's TLS certificate is not trusted \(server certificate verification failed\): if the server uses a private CA, add the CA's PEM bundle as ca\.crt to Secret team-a\/git;/,
    );
  });

  it("scrubs a failure's message and the stack it is logged with while the secrets are known", () => {
    const token = 'ghp_scrubbed_0123456789abcdef';
    const cause = failed(`fatal: unable to access 'https://x-access-token:${token}@example.com/': boom`);
    const scrubbed = asSidecarError(cause).redacted((text) => text.replaceAll(token, '[redacted]'));
    assert.ok(scrubbed.detail, 'a stack to log');
    assert.doesNotMatch(`${scrubbed.message}\n${scrubbed.detail}`, new RegExp(token));
    assert.match(scrubbed.detail ?? '', /\[redacted\]/, "the stack is the cause's, with git's words, scrubbed");
  });

  it('takes what nobody classified as INTERNAL, a full volume as UNAVAILABLE, a killed git as TIMEOUT', () => {
    const bug = asSidecarError(new TypeError("Cannot read properties of undefined (reading 'oid')"));
    assert.equal(bug.reason, Reason.INTERNAL);
    assert.ok(bug.cause instanceof TypeError, 'the cause, for the stack in the log');
    const full = asSidecarError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    assert.equal(full.reason, Reason.UNAVAILABLE);
    assert.match(full.message, /ran out of room .*--disk-budget/);
    assert.equal(
      asSidecarError(failed('fatal: unable to write new index file: No space left on device')).reason,
      Reason.UNAVAILABLE,
    );
    assert.equal(asSidecarError(failed('', { timedOut: true, code: null })).reason, Reason.TIMEOUT);
    assert.equal(
      asSidecarError(new Error('git cat-file exited with 128: fatal: could not fetch 1234 from promisor remote'))
        .reason,
      Reason.UNAVAILABLE,
    );
    const known = new SidecarError(Reason.BRANCH_EXISTS, 'x');
    assert.equal(asSidecarError(known), known);
  });
});
