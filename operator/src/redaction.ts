/**
 * The operator's last line of defence for credentials: it handles tokens and keys only as values read
 * from Secrets and handed to the sidecar or GitHub, never formats them into messages; but an error from
 * a library (an HTTP client echoing a header, a URL with userinfo) could. Every log line and every error
 * recorded on a span passes through here. The sidecar does the same with the exact secrets it holds.
 */
const credentialShapes: Array<[RegExp, string]> = [
  // GitHub tokens: classic (ghp_), OAuth (gho_), user-to-server (ghu_), server-to-server (ghs_), refresh (ghr_).
  [/\bgh[pousr]_[A-Za-z0-9]{16,}\b/g, 'gh*_[REDACTED]'],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}\b/g, 'github_pat_[REDACTED]'],
  // An Authorization header value, however it was printed.
  [/\b(authorization["']?\s*[:=]\s*["']?(?:bearer|basic|token)\s+)[^\s"',}]+/gi, '$1[REDACTED]'],
  // userinfo in a URL: scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@"']+:[^/\s@"']+@/gi, '$1[REDACTED]@'],
  // A PEM private key (an SSH key from a Secret).
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[REDACTED PRIVATE KEY]'],
];

export function redactCredentials(text: string): string {
  let out = text;
  for (const [pattern, replacement] of credentialShapes) out = out.replace(pattern, replacement);
  return out;
}
