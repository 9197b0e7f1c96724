/**
 * Short branch names: `git check-ref-format --branch`'s rules, plus names that would shadow other refs on
 * the remote or in users' clones. The sidecar pushes `refs/heads/<name>`, and a branch named
 * `refs/heads/main` becomes `refs/heads/refs/heads/main`, after which every push to `refs/heads/main` is
 * refused as ambiguous ("matches more than one"), blocking every other resource's commits to main. The
 * CRD's CEL rules are generated from these; the operator and the sidecar apply them again.
 */
import { problemOf, type Refusal, refusal } from './refusal.ts';

export const branchNameMaxLength = 255;

export const branchNameRules: readonly Refusal[] = [
  refusal('^-', "must not start with '-'"),
  refusal('^@$', "must not be '@' (git reads it as HEAD)"),
  refusal(
    '[\\x00-\\x20\\x7f~^:?*\\[\\\\]',
    "must not contain spaces, control characters, '~', '^', ':', '?', '*', '[' or '\\'",
  ),
  refusal('\\.\\.', "must not contain '..'"),
  refusal('@\\{', "must not contain '@{'"),
  refusal('^/|/$|//', "must not start or end with '/' or contain '//'"),
  refusal('\\.$', "must not end with '.'"),
  refusal('(^|/)\\.', "must not have a '/'-separated part starting with '.'"),
  refusal('\\.lock(/|$)', "must not have a '/'-separated part ending with '.lock'"),
  refusal(
    '^(refs|heads|tags|remotes)(/|$)',
    "must be a short branch name such as 'main' (not 'refs/…', 'heads/…', 'tags/…' or 'remotes/…', which name or shadow other refs)",
  ),
  refusal('(^|/)HEAD$|^[A-Z_]*_HEAD$', "must not be 'HEAD' or a pseudo-ref such as 'FETCH_HEAD'"),
];

/** Why a short branch name is refused, or undefined when it is fine. */
export function branchNameProblem(name: string): string | undefined {
  if (name.length > branchNameMaxLength) return `is longer than ${branchNameMaxLength} characters`;
  return problemOf(branchNameRules, name);
}
