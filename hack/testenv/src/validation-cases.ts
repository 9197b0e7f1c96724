/**
 * Paths, authors and repository URLs that tests hold every checker to: @gco/common's rules, the CRD's
 * CEL rules generated from them (on a real API server), and the sidecar. Each checker must agree on every
 * one. Branch names are in branch-names.ts.
 */

/** File paths every checker takes (a path is templated before the processes see it; these need none). */
export const validPaths = [
  'a.txt',
  'dir/sub/file.yaml',
  '.gitignore',
  'a/.github/x',
  'a..b/c.d',
  'with space/ü.txt',
  'x/.gitkeep',
];

/** File paths every checker refuses. */
export const invalidPaths = [
  '/a',
  'a/../b',
  './a',
  '..',
  'a//b',
  'a/',
  '.git',
  '.git/config',
  '.GIT/config',
  'x/.Git',
  'x/.git/y',
  'a\0b',
  'a\nb',
  'a\tb',
  'a\u007fb',
  'a\\b',
];

export const validAuthors = [
  'Bot <bot@example.com>',
  'A B  <a@b>',
  'Production Cluster <prod-k8s@company.com>',
  'Ünïcode Näme <x@y.z>',
  'Tight<t@x.y>',
];

export const invalidAuthors = [
  'nobody',
  'Bot <bot>',
  'Bot bot@example.com',
  '<a@b>',
  '  <a@b>',
  'A <b> <c@d>',
  'A > B <a@b>',
  'A\nB <a@b>',
  'Bot <a b@c>',
  'Bot <a@b> and more',
];

/** Repository URLs in every form of the API contract (file:// where the processes allow it). */
export const validRepositoryUrls = [
  'https://github.com/company/repo.git',
  'http://127.0.0.1:8080/repo.git',
  'ssh://git@github.com/company/repo.git',
  'ssh://git@git.internal:2222/company/repo.git',
  'git@github.com:company/repo.git',
  'deploy.bot@git.internal:team/repo',
  'file:///tmp/repo.git',
];

/** Repository URLs every checker refuses. */
export const invalidRepositoryUrls = [
  'company/repo',
  'github.com:company/repo.git',
  'git@github.com:/srv/repo.git',
  'ftp://host/repo.git',
  'ext::sh -c touch% /tmp/x',
  'https://me:pw@github.com/x.git',
];
