import assert from 'node:assert/strict';
import {
  gitInvalidBranchNames,
  invalidAuthors,
  invalidPaths,
  run,
  shadowingBranchNames,
  validAuthors,
  validBranchNames,
  validPaths,
} from '@gco/testenv';
import {
  authorPattern,
  authorProblem,
  branchNameProblem,
  branchNameRules,
  filePathRules,
  isSshUrl,
  parseAuthor,
  parseScpLikeUrl,
  pathProblem,
  pathRules,
  scpLikeUrlPattern,
} from '../src/validation/index.ts';

describe('common: validation', () => {
  it('refuses branch names as git check-ref-format --branch does, and the names that shadow other refs', async () => {
    const git = async (name: string) => (await run('git', ['check-ref-format', '--branch', name])).code === 0;
    for (const name of validBranchNames) {
      assert.equal(branchNameProblem(name), undefined, name);
      assert.ok(await git(name), `git takes ${JSON.stringify(name)}`);
    }
    for (const name of gitInvalidBranchNames) {
      assert.ok(branchNameProblem(name), JSON.stringify(name));
      assert.equal(await git(name), false, `git refuses ${JSON.stringify(name)}`);
    }
    for (const name of shadowingBranchNames) {
      assert.match(branchNameProblem(name) ?? '', /short branch name|HEAD/, JSON.stringify(name));
      assert.ok(await git(name), `git itself takes ${JSON.stringify(name)}`);
    }
    assert.match(branchNameProblem('x'.repeat(256)) ?? '', /longer than 255/);
    assert.equal(branchNameProblem('x'.repeat(255)), undefined);
  });

  it('refuses paths outside the repository, into .git, or with empty segments and control characters', () => {
    for (const path of validPaths) assert.equal(pathProblem(path), undefined, JSON.stringify(path));
    for (const path of invalidPaths) assert.ok(pathProblem(path), JSON.stringify(path));
    assert.equal(pathProblem(''), 'is empty');
    assert.match(pathProblem('ü'.repeat(2049)) ?? '', /longer than 4096 bytes/);
    assert.match(pathProblem('x/.GIT/config') ?? '', /'\.git'/);
    // A directory may end with '/', a file may not: the only difference between the two sets.
    assert.deepEqual(
      filePathRules.filter((r) => !pathRules.includes(r)).map((r) => r.refuses('dir/')),
      [true],
    );
    assert.equal(
      pathRules.some((r) => r.refuses('dir/')),
      false,
    );
  });

  it("reads authors as 'Name <email>', and checks a name and an email as that same text", () => {
    for (const text of validAuthors) {
      const author = parseAuthor(text);
      assert.ok(author, text);
      assert.equal(authorProblem(author), undefined, text);
    }
    for (const text of invalidAuthors) assert.equal(parseAuthor(text), undefined, JSON.stringify(text));
    assert.deepEqual(parseAuthor('  Production Cluster  <prod@company.com> '), {
      name: 'Production Cluster',
      email: 'prod@company.com',
    });
    for (const [name, email] of [
      ['', 'a@b'],
      ['Bot', ' '],
      ['A <b>', 'a@b'],
      ['Bot', 'a>b@c'],
      ['Bot', 'no-at'],
      ['Line\nbreak', 'a@b'],
      ['Bot', 'a@b\0'],
    ] as const) {
      assert.ok(authorProblem({ name, email }), JSON.stringify({ name, email }));
    }
  });

  it('tells scp-like URLs from the others, and which URLs take SSH credentials', () => {
    assert.deepEqual(parseScpLikeUrl('git@github.com:company/repo.git'), {
      user: 'git',
      host: 'github.com',
      path: 'company/repo.git',
    });
    for (const url of ['https://github.com/a/b', 'ssh://git@h/x', 'git@h:/abs', 'h:x', 'git@h:x://y'])
      assert.equal(parseScpLikeUrl(url), undefined, url);
    assert.equal(isSshUrl('ssh://git@h:2222/x'), true);
    assert.equal(isSshUrl('git@h:org/x'), true);
    assert.equal(isSshUrl('https://h/x'), false);
  });

  it('writes every pattern in the syntax JavaScript and RE2 share', () => {
    // What RE2 (the API server's CEL) does not have, or reads differently: look-around, back-references,
    // possessive and lazy quantifiers' cousins, \d/\w/\b (ASCII-only in RE2, Unicode-aware here with /u).
    const foreign = /\(\?[=!<]|\\[1-9dDwWbB]|\(\?[a-z]/;
    const patterns = [
      ...branchNameRules.map((r) => r.pattern),
      ...filePathRules.map((r) => r.pattern),
      authorPattern,
      scpLikeUrlPattern,
    ];
    for (const pattern of patterns) {
      assert.doesNotMatch(pattern, foreign, pattern);
      assert.doesNotThrow(() => new RegExp(pattern, 'u'), pattern);
    }
  });
});
