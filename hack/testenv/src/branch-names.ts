/**
 * Branch names that tests hold the sidecar's branchNameProblem, the CRD's CEL rules and
 * `git check-ref-format --branch` to: each checker must agree on every one.
 */
export const validBranchNames = [
  'main',
  'backups/production',
  'release-1.2',
  'argocd-sync-20261124101500',
  'feature/HEADLINE',
  'user@host',
  'v1.0',
  'Ünïcode',
  'head',
  'HEADS/x',
  'a.b/c.d',
];

/** Names git itself refuses (`git check-ref-format --branch` exits non-zero). */
export const gitInvalidBranchNames = [
  '-x',
  '/x',
  'x/',
  'a..b',
  'a b',
  'a\tb',
  'a\u007fb',
  'a~1',
  'a^',
  'a:b',
  'a?',
  'a*',
  'a[',
  'a\\b',
  'x.lock',
  'x.lock/y',
  'a@{b',
  'a//b',
  '.hidden',
  'a/.b',
  'x.',
  'HEAD',
];

/** Names git takes but that name or shadow other refs: refused by this project. */
export const shadowingBranchNames = [
  'refs/heads/main',
  'refs/tags/v1',
  'refs/main',
  'heads/main',
  'tags/v1',
  'remotes/origin/main',
  'refs',
  'x/HEAD',
  '@',
  'FETCH_HEAD',
  'ORIG_HEAD',
  'MERGE_HEAD',
];
