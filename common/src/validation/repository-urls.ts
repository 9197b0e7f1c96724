/**
 * Repository URLs as the API contract takes them: `https://host/path`, `http://host/path`,
 * `ssh://user@host[:port]/path`, scp-like `user@host:path`, and `file:///path` where the processes allow
 * it. The CRD's CEL rules are generated from these patterns; the operator reads the scp-like form with
 * them (which credentials a URL takes, GitHub's coordinates), and the sidecar parses and normalizes
 * every URL it is sent with them.
 */
export const repositoryUrlMaxLength = 2048;

/** `https://`, `http://` or `ssh://` and a host. */
export const schemeUrlPattern = '^(https?|ssh)://[^/?#]+';
export const fileUrlPattern = '^file:///';
/**
 * `user@host:path`, as git reads it when there is no `://`. The path does not start with '/': git would
 * read `git@host:/srv/repo` as an absolute path and `git@host:srv/repo` as one in the user's home, two
 * repositories that one clone must not stand for.
 */
export const scpLikeUrlPattern = '^([A-Za-z0-9._~-]+)@([A-Za-z0-9.-]+):([^/].*)$';
/** A password in the URL (`scheme://user:password@`): credentials belong in a Secret. */
export const embeddedCredentialsPattern = '^[a-z]+://[^/@]*:[^/@]*@';

const scpLike = new RegExp(scpLikeUrlPattern, 'u');

/** The parts of a scp-like URL, or undefined when `url` is not one. */
export function parseScpLikeUrl(url: string): { user: string; host: string; path: string } | undefined {
  if (url.includes('://')) return undefined;
  const m = scpLike.exec(url);
  return m ? { user: m[1] as string, host: m[2] as string, path: m[3] as string } : undefined;
}

/** Whether git reaches the repository over SSH (and so takes an SSH key and known hosts). */
export function isSshUrl(url: string): boolean {
  return url.startsWith('ssh://') || parseScpLikeUrl(url) !== undefined;
}
