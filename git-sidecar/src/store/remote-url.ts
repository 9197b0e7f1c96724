/**
 * Repository URLs: parsed, checked and normalized, so that every spelling of one repository
 * (`https://Host/org/repo.git`, `https://host/org/repo`, `git@host:org/repo.git`,
 * `ssh://git@host:22/org/repo`) shares one persistent clone and one queue.
 */
import { createHash } from 'node:crypto';
import { parseScpLikeUrl, repositoryUrlMaxLength } from '@gco/common/validation';
import { Reason, SidecarError } from '../errors.ts';
import { flatCopy } from '../strings.ts';

export interface RemoteUrl {
  /** The URL git is given, as the user wrote it (scp-like forms are kept: git understands them). */
  url: string;
  transport: 'http' | 'ssh' | 'file';
  /** `scheme://host[:port]` for http(s); used to scope credentials. */
  origin: string;
  /** Canonical form: lower-case scheme and host, default port dropped, no trailing `/` or `.git`. */
  normalized: string;
  /** Stable directory name for the clone: readable prefix plus a hash of the normalized URL. */
  key: string;
}

const defaultPorts: Record<string, string> = { http: '80', https: '443', ssh: '22' };

export function parseRemoteUrl(raw: string, opts: { allowFileUrls: boolean }): RemoteUrl {
  const url = raw.trim();
  const invalid = (why: string) =>
    new SidecarError(Reason.INVALID_ARGUMENT, `repository URL ${JSON.stringify(url)}: ${why}`);
  if (url === '' || url.length > repositoryUrlMaxLength) {
    throw invalid(`must be 1 to ${repositoryUrlMaxLength} characters`);
  }
  if (/[\s\0]/.test(url)) throw invalid('must not contain spaces or control characters');

  const scp = parseScpLikeUrl(url);
  let scheme: string;
  let host: string;
  let port: string;
  let path: string;
  let user = '';
  if (scp) {
    ({ user, host, path } = scp);
    scheme = 'ssh';
    port = '';
  } else {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid("must be https://, http://, ssh://user@host[:port]/path or scp-like 'user@host:path'");
    }
    scheme = parsed.protocol.replace(/:$/, '').toLowerCase();
    if (!['http', 'https', 'ssh', 'file'].includes(scheme)) throw invalid(`scheme '${scheme}' is not supported`);
    if (scheme === 'file' && !opts.allowFileUrls) {
      throw invalid('file:// URLs are allowed only when the sidecar runs with --allow-file-urls');
    }
    if (parsed.password || (scheme !== 'ssh' && parsed.username)) {
      throw invalid('must not contain credentials: pass them as credentials of the request');
    }
    user = decodeURIComponent(parsed.username);
    host = parsed.hostname;
    port = parsed.port;
    path = decodeURIComponent(parsed.pathname);
    if (scheme !== 'file' && !host) throw invalid('has no host');
  }
  if (path.split('/').includes('..')) throw invalid("must not contain '..'");
  host = host.toLowerCase();
  if (port === defaultPorts[scheme]) port = '';
  const cleanPath = `/${path
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')}`;
  const authority = `${user && scheme === 'ssh' ? `${user}@` : ''}${host}${port ? `:${port}` : ''}`;
  const normalized = `${scheme}://${authority}${cleanPath}`;
  const hash = createHash('sha256').update(normalized).digest('hex').slice(0, 16);
  const readable = `${host || 'local'}${cleanPath}`.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-60);
  return {
    url,
    transport: scheme === 'ssh' ? 'ssh' : scheme === 'file' ? 'file' : 'http',
    origin: `${scheme}://${host}${port ? `:${port}` : ''}`,
    normalized,
    // Kept as long as the clone (store entry, cache keys): a copy, not the strings it is made of.
    key: flatCopy(`${readable}-${hash}`),
  };
}
