/**
 * The words users read when a job fails: what failed, and what to do about it. Written at the job's
 * boundary, where the remote and the credentials are known, from what git, ssh and the server said
 * (errors.ts classified it already: the reason never changes here). Git's own last line ("could not read
 * Username … terminal prompts disabled", "Could not read from remote repository") says what git could
 * not do, rarely why: these say which host refused what, whose credentials, and what fixes it.
 */
import type { Credentials } from '@gco/sidecar-api';
import { asSidecarError, gitMessage, Reason, RemoteGitFailure, SidecarError } from './errors.ts';
import { offeredHostKey } from './git/host-keys.ts';

export interface FailureContext {
  remote: { url: string; origin: string; transport: 'http' | 'ssh' | 'file' };
  credentials?: Credentials;
  /** The job's deadline passed (an error then is most likely the deadline's doing). */
  deadlinePassed?: boolean;
}

/** Any error of a job as the SidecarError its caller gets, with a message written for users. */
export async function explainFailure(error: unknown, ctx: FailureContext): Promise<SidecarError> {
  if (error instanceof RemoteGitFailure) {
    return new SidecarError(error.reason, await describe(error, ctx), { cause: error.cause });
  }
  if (error instanceof SidecarError) return error;
  if (ctx.deadlinePassed) {
    return new SidecarError(Reason.TIMEOUT, "the job's deadline passed before it finished", { cause: error });
  }
  return asSidecarError(error);
}

interface Words {
  url: string;
  /** host[:port] for HTTP; ssh's spelling for SSH (`host`, or `[host]:port`). */
  host: string;
  hostname: string;
  port: string;
  /** " of Secret ns/name" when the request said where its credentials come from. */
  of: string;
  method: 'token' | 'basic' | 'ssh' | undefined;
  stderr: string;
}

function wordsOf(failure: RemoteGitFailure, ctx: FailureContext): Words {
  let hostname = '';
  let port = '';
  try {
    const origin = new URL(ctx.remote.origin);
    hostname = origin.hostname.replace(/^\[(.*)\]$/, '$1');
    port = origin.port;
  } catch {
    // a file:// remote has no host
  }
  const host =
    ctx.remote.transport === 'file'
      ? 'the local file system'
      : ctx.remote.transport === 'ssh'
        ? port
          ? `[${hostname}]:${port}`
          : hostname
        : `${hostname}${port ? `:${port}` : ''}`;
  const origin = ctx.credentials?.origin;
  return {
    url: ctx.remote.url,
    host,
    hostname,
    port,
    of: origin ? ` of ${origin}` : '',
    method: ctx.credentials?.method.case,
    stderr: failure.stderr,
  };
}

async function describe(failure: RemoteGitFailure, ctx: FailureContext): Promise<string> {
  const w = wordsOf(failure, ctx);
  switch (failure.reason) {
    case Reason.AUTHENTICATION_REJECTED:
      return authentication(w);
    case Reason.HOST_KEY_REJECTED:
      return hostKey(w);
    case Reason.REPOSITORY_NOT_FOUND:
      return notFound(w);
    case Reason.CERTIFICATE_REJECTED:
      return certificate(w, ctx.credentials?.origin);
    case Reason.TIMEOUT:
      return `${failure.what} did not finish in time (the job's deadline, or --git-timeout for one git command): ${w.host} or the network is slow, or the repository is large`;
    case Reason.UNAVAILABLE:
      return network(w, failure.what);
    default:
      return failure.message;
  }
}

/** What the server itself said (`remote:` lines, GitHub's `ERROR:`), quoted, or nothing. */
function serverSaid(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(remote: |ERROR: )/.test(l) && !/^remote: (Counting|Compressing|Enumerating|Total)/.test(l))
    .map((l) => l.replace(/^(remote|ERROR): /, '').trim())
    .filter(Boolean);
  const text = lines.slice(0, 2).join(' ').slice(0, 300);
  return text ? `; the server said: "${text}"` : '';
}

function authentication(w: Words): string {
  if (w.method === 'ssh' || /Permission denied \(/.test(w.stderr)) {
    const denied = /Permission denied \(([^)]*)\)/.exec(w.stderr)?.[1] ?? 'publickey';
    return `${w.host} rejected the SSH key${w.of} for ${w.url} (permission denied: ${denied}${serverSaid(w.stderr)}): add its public key to the server (for example as a deploy key with write access to this repository), or give a key the server accepts`;
  }
  const status = /returned error: (40[13])/.exec(w.stderr)?.[1] ?? '401';
  if (w.method === undefined) {
    return `${w.host} requires credentials for ${w.url} (HTTP ${status}${serverSaid(w.stderr)}) and none were given: give a token, or a username and password, that may push to this repository`;
  }
  const what = w.method === 'basic' ? 'the username and password' : 'the token';
  if (status === '403') {
    return `${w.host} refused ${w.url} to ${what}${w.of} (HTTP 403${serverSaid(w.stderr)}): give ${w.method === 'basic' ? 'that user' : 'that token'} write access to this repository, or use credentials that have it`;
  }
  return `${w.host} rejected ${what}${w.of} for ${w.url} (HTTP 401${serverSaid(w.stderr)}): replace ${w.method === 'basic' ? 'them with a valid username and password' : 'it with a valid token'} that may push to this repository`;
}

async function hostKey(w: Words): Promise<string> {
  const knownHosts = `known_hosts${w.of}`;
  const changed = /Host key for (\S+) has changed/.exec(w.stderr);
  if (changed || /REMOTE HOST IDENTIFICATION HAS CHANGED/.test(w.stderr)) {
    const sent = /The fingerprint for the (\S+) key sent by the remote host is\s+(SHA256:[A-Za-z0-9+/]+)/.exec(
      w.stderr,
    );
    const offered = sent ? `the ${sent[1]} key ${sent[2]}` : 'another key';
    return `Host key verification failed for ${changed?.[1] ?? w.host}: it offered ${offered}, not the key ${knownHosts} lists for it. If the server's key was replaced, put its new key line in known_hosts; if not, something else is answering in the server's place: do not trust it`;
  }
  const unknown = /No (\S+) host key is known for (\S+) and/.exec(w.stderr);
  if (unknown) {
    const [, type = '', host = w.host] = unknown;
    const key = await offeredHostKey(w.hostname, w.port, type);
    const offered =
      'fingerprint' in key
        ? `it offers the ${type} key ${key.fingerprint}`
        : `its ${type} key could not be read for a fingerprint: ${key.error}`;
    const keyscan = `ssh-keyscan${w.port ? ` -p ${w.port}` : ''} ${w.hostname}`;
    return `Host key verification failed for ${host}: ${knownHosts} has no ${type} key for it (${offered}). Check that fingerprint against the one the server's administrators publish, then add the server's key line to known_hosts (${keyscan} prints it)`;
  }
  return `Host key verification failed for ${w.host} (${gitMessage(w.stderr)}): check known_hosts${w.of}`;
}

function notFound(w: Words): string {
  const why = w.method ? `or the credentials${w.of} may not see it` : 'or it is private and no credentials were given';
  // git says "repository '<url>' not found" for an HTTP 404.
  const detail = /returned error: 404|repository '.*' not found/.test(w.stderr)
    ? 'HTTP 404'
    : (w.stderr
        .split('\n')
        .map((l) => l.trim().replace(/^(fatal|ERROR): /, ''))
        .find((l) => l && !/Could not read from remote repository/.test(l)) ?? 'not found');
  return `${w.host} has no repository ${w.url}, ${why} (${detail}${serverSaid(w.stderr)}): check the URL${w.method ? ', and that the credentials may read this repository' : ''}`;
}

function certificate(w: Words, origin: string | undefined): string {
  const detail =
    /(server certificate verification failed[^\n]*|SSL certificate problem: [^\n]*|certificate verify failed[^\n]*)/i
      .exec(w.stderr)?.[1]
      ?.replace(/\.?\s*CAfile:.*$/, '') ?? gitMessage(w.stderr);
  return `${w.host}'s TLS certificate is not trusted (${detail}): if the server uses a private CA, add the CA's PEM bundle as ca.crt${origin ? ` to ${origin}` : ' to the credentials'}; otherwise its certificate has expired or names another host`;
}

function network(w: Words, what: string): string {
  const unresolved = /Could not resolve host(?:name)?:? ([^\s:;']+)/i.exec(w.stderr);
  if (unresolved) {
    return `could not resolve the host name ${unresolved[1]} of ${w.url}: check the URL, and the DNS the sidecar uses`;
  }
  const curl = /unable to access '[^']*': ([^\n]*)/.exec(w.stderr)?.[1];
  if (
    /Failed to connect|Couldn't connect|Connection refused|Connection timed out|No route to host|Network is unreachable|Operation timed out/i.test(
      w.stderr,
    )
  ) {
    return `could not connect to ${w.host} for ${w.url} (${curl ?? gitMessage(w.stderr)}): check the URL's host and port, and that the network lets the sidecar reach the server`;
  }
  const status = /returned error: (5\d\d)/.exec(w.stderr)?.[1];
  if (status) return `${w.host} answered HTTP ${status} while ${what}${serverSaid(w.stderr)}: the server failed`;
  return `${what} from ${w.host} failed: ${gitMessage(w.stderr)}`;
}
