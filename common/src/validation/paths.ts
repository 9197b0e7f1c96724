/**
 * Paths inside a repository, as every file a job writes must have them: relative, normalized, `/` as the
 * separator, nothing inside `.git` (in any case, as git protects it on case-insensitive file systems),
 * no NUL or control characters. The CRD's CEL rules are generated from these; the operator applies them
 * to rendered paths and the sidecar to every path it is sent.
 */
import { problemOf, type Refusal, refusal } from './refusal.ts';

export const pathMaxBytes = 4096;

/** What every path obeys, a directory's too (resourceReferences[].output.path, which may end with '/'). */
export const pathRules: readonly Refusal[] = [
  refusal('\\x00', 'must not contain a NUL character'),
  refusal('[\\x01-\\x1f\\x7f]', 'must not contain control characters'),
  refusal('^/', "must be a relative path: remove the leading '/'"),
  refusal('\\\\', "must use '/' as the separator, not '\\'"),
  refusal('//', "must not contain empty segments ('//')"),
  refusal(
    '(^|/)\\.\\.?(/|$)',
    "must not contain '.' or '..' segments: write the normalized path inside the repository",
  ),
  refusal('(^|/)\\.[Gg][Ii][Tt](/|$)', "must not point into '.git': files inside the git directory cannot be written"),
];

/** What a file's path obeys. */
export const filePathRules: readonly Refusal[] = [
  ...pathRules,
  refusal('/$', "names a file, so it must not end with '/'"),
];

/** Why a file's path is refused, or undefined when it is fine. */
export function pathProblem(path: string, maxBytes = pathMaxBytes): string | undefined {
  if (path === '') return 'is empty';
  if (Buffer.byteLength(path) > maxBytes) return `is longer than ${maxBytes} bytes`;
  return problemOf(filePathRules, path);
}
