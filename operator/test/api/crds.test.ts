import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { branchNameProblem, parseAuthor, pathProblem } from '@gco/common/validation';
import {
  type ControlPlane,
  gitInvalidBranchNames,
  invalidAuthors,
  invalidPaths,
  invalidRepositoryUrls,
  repoRoot,
  shadowingBranchNames,
  sharedControlPlane,
  validAuthors,
  validBranchNames,
  validPaths,
  validRepositoryUrls,
} from '@gco/testenv';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { renderCrds } from '../../src/api/crd.ts';
import { chartCrdDirectory, crdDirectory } from '../../src/api/generate.ts';

const scenarioDir = join(repoRoot, 'e2e/scenarios');
const sharedScenarioDir = join(repoRoot, '../shared/reference/scenarios');
const operatorNamespace = 'git-change-operator-system';
const namespace = 'crd-validation';

type Obj = Record<string, any>;

const validGitCommit = (): Obj => ({
  apiVersion: 'gco.galos.one/v1',
  kind: 'GitCommit',
  metadata: { name: 'valid', namespace },
  spec: {
    repository: { url: 'https://git.example.com/org/repo.git', branch: 'main' },
    commit: { author: 'Someone <someone@example.com>', message: 'Update' },
    files: [{ path: 'a/b.txt', content: 'x' }],
    resourceReferences: [
      { name: 'cm', apiVersion: 'v1', kind: 'ConfigMap', strategy: 'dump', output: { path: 'cm.yaml' } },
    ],
  },
});

const validPullRequest = (): Obj => ({
  apiVersion: 'gco.galos.one/v1',
  kind: 'PullRequest',
  metadata: { name: 'valid', namespace },
  spec: {
    repository: { url: 'https://git.example.com/org/repo.git', baseBranch: 'main' },
    pullRequest: { title: 'Sync', branchPrefix: 'sync' },
    files: [{ path: 'a.txt', content: 'x' }],
  },
});

function plural(obj: Obj): string {
  return obj.kind === 'GitCommit' ? 'gitcommits' : 'pullrequests';
}

/** Creates with server-side dry run and strict field validation, as `kubectl apply` does. */
async function dryRunCreate(plane: ControlPlane, obj: Obj): Promise<void> {
  const api = plane.admin().makeApiClient(k8s.CustomObjectsApi);
  await api.createNamespacedCustomObject({
    group: 'gco.galos.one',
    version: 'v1',
    namespace: obj.metadata.namespace,
    plural: plural(obj),
    body: obj,
    dryRun: 'All',
    fieldValidation: 'Strict',
  });
}

async function rejection(plane: ControlPlane, obj: Obj): Promise<string> {
  try {
    await dryRunCreate(plane, obj);
  } catch (error) {
    const body = (error as { body?: string }).body;
    const parsed = typeof body === 'string' ? (JSON.parse(body) as { message?: string; code?: number }) : undefined;
    assert.ok(parsed?.code === 422 || parsed?.code === 400, `expected 422 or 400, got ${String(error)}`);
    return parsed?.message ?? '';
  }
  assert.fail(`the API server accepted an invalid resource: ${JSON.stringify(obj.spec)}`);
}

describe('CRDs', () => {
  let plane: ControlPlane;

  before(async function () {
    this.timeout(120_000);
    plane = await sharedControlPlane();
    await plane.ensureNamespace(namespace);
    await plane.ensureNamespace(operatorNamespace);
  });

  it('are committed exactly as the generator makes them from the API types, for kustomize and Helm', () => {
    const rendered = renderCrds();
    for (const directory of [crdDirectory, chartCrdDirectory]) {
      const committed = readdirSync(directory).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      assert.deepEqual(committed.sort(), [...rendered.keys()].sort(), directory);
      for (const [name, text] of rendered) {
        const path = join(directory, name);
        assert.equal(readFileSync(path, 'utf8'), text, `${path} is stale: run \`npm run generate\``);
      }
    }
  });

  it('install on the real API server with short names, category and printer columns', async () => {
    const ext = plane.admin().makeApiClient(k8s.ApiextensionsV1Api);
    const gc = await ext.readCustomResourceDefinition({ name: 'gitcommits.gco.galos.one' });
    assert.deepEqual(gc.spec.names.shortNames, ['gcommit']);
    const pr = await ext.readCustomResourceDefinition({ name: 'pullrequests.gco.galos.one' });
    assert.deepEqual(pr.spec.names.shortNames, ['gpr']);
    const resources = await plane.kubectl(['api-resources', '--categories=gco', '-o', 'name']);
    assert.equal(resources.code, 0, resources.stderr);
    assert.deepEqual(resources.stdout.trim().split('\n').sort(), [
      'gitcommits.gco.galos.one',
      'pullrequests.gco.galos.one',
    ]);
  });

  it('accepts every scenario of the users as written', async () => {
    const files = readdirSync(scenarioDir).filter((f) => f.endsWith('.yaml'));
    assert.equal(files.length, 8, 'all eight scenarios are read');
    for (const file of files) {
      const result = await plane.kubectl([
        'apply',
        '--dry-run=server',
        '-n',
        operatorNamespace,
        '-f',
        join(scenarioDir, file),
      ]);
      assert.equal(result.code, 0, `${file}: ${result.stderr}`);
      assert.match(result.stdout, /(created|configured) \(server dry run\)/, file);
    }
  });

  it('defaults what the contract defaults', async () => {
    const api = plane.admin().makeApiClient(k8s.CustomObjectsApi);
    const created = (await api.createNamespacedCustomObject({
      group: 'gco.galos.one',
      version: 'v1',
      namespace,
      plural: 'pullrequests',
      body: { ...validPullRequest(), spec: { ...validPullRequest().spec, pullRequest: { title: 't' } } },
      dryRun: 'All',
    })) as Obj;
    assert.equal(created.spec.writeMode, 'overwrite');
    assert.equal(created.spec.pullRequest.branchPrefix, 'git-change-operator');
    assert.equal(created.spec.pullRequest.draft, false);
  });

  it('shows the printer columns in kubectl get', async () => {
    const obj = validGitCommit();
    obj.metadata.name = 'columns';
    const applied = await plane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
    assert.equal(applied.code, 0, applied.stderr);
    const got = await plane.kubectl(['get', 'gcommit', '-n', namespace, 'columns']);
    assert.equal(got.code, 0, got.stderr);
    const header = got.stdout.split('\n')[0]?.split(/\s+/);
    assert.deepEqual(header, ['NAME', 'REPOSITORY', 'BRANCH', 'PHASE', 'COMMIT', 'AGE']);
    const pr = validPullRequest();
    pr.metadata.name = 'columns';
    assert.equal((await plane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pr) })).code, 0);
    const gpr = await plane.kubectl(['get', 'gpr', '-n', namespace, 'columns']);
    assert.deepEqual(gpr.stdout.split('\n')[0]?.split(/\s+/), ['NAME', 'REPOSITORY', 'PHASE', 'PR', 'URL', 'AGE']);
  });

  it('explains every field for kubectl explain', async () => {
    const result = await plane.kubectl(['explain', 'gitcommit.spec.resourceReferences.strategy']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /single-field/);
    assert.match(result.stdout, /refused unless\s+the\s+operator\s+allows\s+Secret\s+export/);
  });

  it('accepts the cron forms users write', async () => {
    for (const schedule of [
      '0 */6 * * *',
      '0 9 * * MON',
      '*/15 9-17 * * 1-5',
      '0 0 1 jan,jul *',
      '@daily',
      '@hourly',
      '@every 30m',
      '@every 1h30m',
    ]) {
      const obj = validGitCommit();
      obj.spec.schedule = schedule;
      await dryRunCreate(plane, obj);
    }
  });

  it('agrees with the sidecar and git on every branch name: refuses what shadows other refs, naming the field', async () => {
    const fields: Array<[() => Obj, (o: Obj, name: string) => void, string]> = [
      [validGitCommit, (o, name) => (o.spec.repository.branch = name), 'spec.repository.branch'],
      [validPullRequest, (o, name) => (o.spec.repository.baseBranch = name), 'spec.repository.baseBranch'],
      [validPullRequest, (o, name) => (o.spec.pullRequest.branchPrefix = name), 'spec.pullRequest.branchPrefix'],
    ];
    for (const [base, set, field] of fields) {
      for (const name of validBranchNames) {
        const obj = base();
        set(obj, name);
        await dryRunCreate(plane, obj);
      }
      for (const name of [...gitInvalidBranchNames, ...shadowingBranchNames]) {
        assert.ok(branchNameProblem(name), `the sidecar refuses ${JSON.stringify(name)} too`);
        const obj = base();
        set(obj, name);
        const message = await rejection(plane, obj);
        assert.ok(message.includes(field), `${JSON.stringify(name)}: the message names ${field}: ${message}`);
      }
    }
  });

  it('agrees with @gco/common, which the processes apply, on every path, author and repository URL', async () => {
    const admits = async (mutate: (o: Obj) => void, field: string, value: string, expected: boolean) => {
      const obj = validGitCommit();
      mutate(obj);
      if (expected) return dryRunCreate(plane, obj);
      const message = await rejection(plane, obj);
      assert.ok(message.includes(field), `${JSON.stringify(value)}: the message names ${field}: ${message}`);
    };
    for (const [paths, valid] of [
      [validPaths, true],
      [invalidPaths, false],
    ] as const) {
      for (const path of paths) {
        assert.equal(pathProblem(path) === undefined, valid, `@gco/common on ${JSON.stringify(path)}`);
        await admits((o) => (o.spec.files[0].path = path), 'spec.files[0].path', path, valid);
        // A directory may end with '/'; every other rule is the same.
        if (!path.endsWith('/')) {
          const field = 'spec.resourceReferences[0].output.path';
          await admits((o) => (o.spec.resourceReferences[0].output.path = path), field, path, valid);
        }
      }
    }
    for (const [authors, valid] of [
      [validAuthors, true],
      [invalidAuthors, false],
    ] as const) {
      for (const author of authors) {
        assert.equal(parseAuthor(author) !== undefined, valid, `@gco/common on ${JSON.stringify(author)}`);
        await admits((o) => (o.spec.commit.author = author), 'spec.commit.author', author, valid);
      }
    }
    // The sidecar's units test holds its URL parser to the same lists.
    for (const [urls, valid] of [
      [validRepositoryUrls, true],
      [invalidRepositoryUrls, false],
    ] as const) {
      for (const url of urls) await admits((o) => (o.spec.repository.url = url), 'spec.repository.url', url, valid);
    }
  });

  it("refuses '@every' below the minimum interval at admission, and takes it at the minimum", async () => {
    for (const schedule of ['@every 0s', '@every 4s', '@every 4999ms', '@every 100ms']) {
      const obj = validGitCommit();
      obj.spec.schedule = schedule;
      assert.match(await rejection(plane, obj), /spec.schedule.*at least 5s/, schedule);
    }
    for (const schedule of ['@every 5s', '@every 5000ms', '@every 1m']) {
      const obj = validGitCommit();
      obj.spec.schedule = schedule;
      await dryRunCreate(plane, obj);
    }
  });

  it('accepts every repository URL form of the contract', async () => {
    for (const url of [
      'https://github.com/company/repo.git',
      'http://127.0.0.1:8080/repo.git',
      'ssh://git@github.com/company/repo.git',
      'ssh://git@git.internal:2222/company/repo.git',
      'git@github.com:company/repo.git',
      'file:///tmp/repo.git',
    ]) {
      const obj = validGitCommit();
      obj.spec.repository.url = url;
      await dryRunCreate(plane, obj);
    }
  });

  // Each case: what to break, the field the API server must name, and words of the message.
  const invalid: Array<{ name: string; base?: () => Obj; mutate: (o: Obj) => void; field: string; says: RegExp }> = [
    {
      name: 'missing repository.url',
      mutate: (o) => delete o.spec.repository.url,
      field: 'spec.repository.url',
      says: /Required value/,
    },
    {
      name: 'repository.url that is not a git URL',
      mutate: (o) => (o.spec.repository.url = 'company/repo'),
      field: 'spec.repository.url',
      says: /must be a git URL/,
    },
    {
      name: 'credentials inside the URL',
      mutate: (o) => (o.spec.repository.url = 'https://me:pw@github.com/x.git'),
      field: 'spec.repository.url',
      says: /must not embed credentials/,
    },
    {
      name: 'unknown strategy',
      mutate: (o) => (o.spec.resourceReferences[0].strategy = 'copy'),
      field: 'spec.resourceReferences[0].strategy',
      says: /Unsupported value: "copy"/,
    },
    {
      name: 'single-field without field',
      mutate: (o) => (o.spec.resourceReferences[0].strategy = 'single-field'),
      field: 'spec.resourceReferences[0].field',
      says: /required when strategy is 'single-field'/,
    },
    {
      name: 'field without single-field',
      mutate: (o) => (o.spec.resourceReferences[0].field = 'data'),
      field: 'spec.resourceReferences[0].field',
      says: /only used with strategy 'single-field'/,
    },
    {
      name: 'path escaping with ../',
      mutate: (o) => (o.spec.files[0].path = '../etc/passwd'),
      field: 'spec.files[0].path',
      says: /'\.' or '\.\.' segments/,
    },
    {
      name: 'path with a .. segment inside',
      mutate: (o) => (o.spec.files[0].path = 'a/../../b'),
      field: 'spec.files[0].path',
      says: /'\.' or '\.\.' segments/,
    },
    {
      name: 'absolute path',
      mutate: (o) => (o.spec.files[0].path = '/abs/file'),
      field: 'spec.files[0].path',
      says: /relative path/,
    },
    {
      name: 'path into .git/',
      mutate: (o) => (o.spec.files[0].path = '.git/config'),
      field: 'spec.files[0].path',
      says: /'\.git'/,
    },
    {
      name: 'path into a nested .git/',
      mutate: (o) => (o.spec.files[0].path = 'sub/.git/hooks/pre-commit'),
      field: 'spec.files[0].path',
      says: /'\.git'/,
    },
    {
      name: 'path with an empty segment',
      mutate: (o) => (o.spec.files[0].path = 'a//b'),
      field: 'spec.files[0].path',
      says: /empty segments/,
    },
    {
      name: 'file path naming a directory',
      mutate: (o) => (o.spec.files[0].path = 'dir/'),
      field: 'spec.files[0].path',
      says: /must not end with '\/'/,
    },
    {
      name: 'empty path',
      mutate: (o) => (o.spec.files[0].path = ''),
      field: 'spec.files[0].path',
      says: /at least 1 chars? long/,
    },
    {
      name: 'output path escaping',
      mutate: (o) => (o.spec.resourceReferences[0].output.path = '../x.yaml'),
      field: 'spec.resourceReferences[0].output.path',
      says: /'\.' or '\.\.' segments/,
    },
    {
      name: 'dump into a directory path',
      mutate: (o) => (o.spec.resourceReferences[0].output.path = 'dir/'),
      field: 'spec.resourceReferences[0].output.path',
      says: /must not end with '\/'/,
    },
    {
      name: 'bad writeMode',
      mutate: (o) => (o.spec.writeMode = 'replace'),
      field: 'spec.writeMode',
      says: /Unsupported value: "replace"/,
    },
    {
      name: 'bad writeMode on a file',
      mutate: (o) => (o.spec.files[0].writeMode = 'prepend'),
      field: 'spec.files[0].writeMode',
      says: /Unsupported value: "prepend"/,
    },
    {
      name: 'author without an email',
      mutate: (o) => (o.spec.commit.author = 'Just A Name'),
      field: 'spec.commit.author',
      says: /'Name <email>'/,
    },
    {
      name: 'author with a bad email',
      mutate: (o) => (o.spec.commit.author = 'Name <not-an-email>'),
      field: 'spec.commit.author',
      says: /'Name <email>'/,
    },
    {
      name: 'author without a name',
      mutate: (o) => (o.spec.commit.author = '<a@b.c>'),
      field: 'spec.commit.author',
      says: /'Name <email>'/,
    },
    {
      name: 'garbage cron',
      mutate: (o) => (o.spec.schedule = 'every day'),
      field: 'spec.schedule',
      says: /5-field cron expression/,
    },
    {
      name: 'cron minute out of range',
      mutate: (o) => (o.spec.schedule = '61 * * * *'),
      field: 'spec.schedule',
      says: /5-field cron expression/,
    },
    {
      name: 'cron with three fields',
      mutate: (o) => (o.spec.schedule = '* * *'),
      field: 'spec.schedule',
      says: /5-field cron expression/,
    },
    {
      name: 'cron with a bad weekday',
      mutate: (o) => (o.spec.schedule = '0 9 * * FUNDAY'),
      field: 'spec.schedule',
      says: /5-field cron expression/,
    },
    { name: 'empty spec', mutate: (o) => (o.spec = {}), field: 'spec.repository', says: /Required value/ },
    { name: 'no spec at all', mutate: (o) => delete o.spec, field: 'spec', says: /Required value/ },
    {
      name: 'neither files nor references',
      mutate: (o) => {
        delete o.spec.files;
        o.spec.resourceReferences = [];
      },
      field: 'spec',
      says: /at least one entry in spec.files or spec.resourceReferences/,
    },
    {
      name: 'missing commit message',
      mutate: (o) => delete o.spec.commit.message,
      field: 'spec.commit.message',
      says: /Required value/,
    },
    {
      name: 'branch with ..',
      mutate: (o) => (o.spec.repository.branch = 'feature..x'),
      field: 'spec.repository.branch',
      says: /valid git branch name/,
    },
    {
      name: 'branch with a space',
      mutate: (o) => (o.spec.repository.branch = 'my branch'),
      field: 'spec.repository.branch',
      says: /valid git branch name/,
    },
    {
      name: 'branch ending in .lock',
      mutate: (o) => (o.spec.repository.branch = 'main.lock'),
      field: 'spec.repository.branch',
      says: /valid git branch name/,
    },
    {
      name: 'reference without kind',
      mutate: (o) => delete o.spec.resourceReferences[0].kind,
      field: 'spec.resourceReferences[0].kind',
      says: /Required value/,
    },
    {
      name: 'reference with a malformed apiVersion',
      mutate: (o) => (o.spec.resourceReferences[0].apiVersion = 'Apps/V1!'),
      field: 'spec.resourceReferences[0].apiVersion',
      says: /should match/,
    },
    {
      name: 'reference without output',
      mutate: (o) => delete o.spec.resourceReferences[0].output,
      field: 'spec.resourceReferences[0].output',
      says: /Required value/,
    },
    {
      name: 'bad serviceAccountName',
      mutate: (o) => (o.spec.serviceAccountName = 'Bad_Name'),
      field: 'spec.serviceAccountName',
      says: /should match/,
    },
    {
      name: 'empty auth.secretName',
      mutate: (o) => (o.spec.auth = { secretName: '' }),
      field: 'spec.auth.secretName',
      says: /at least 1 chars? long/,
    },
    {
      name: 'suspend that is not a boolean',
      mutate: (o) => (o.spec.suspend = 'yes'),
      field: 'spec.suspend',
      says: /must be of type boolean/,
    },
    {
      name: 'a misspelled field',
      mutate: (o) => (o.spec.repository.brnach = 'main'),
      field: 'spec.repository.brnach',
      says: /unknown field/,
    },
    {
      name: 'PullRequest without pullRequest',
      base: validPullRequest,
      mutate: (o) => delete o.spec.pullRequest,
      field: 'spec.pullRequest',
      says: /Required value/,
    },
    {
      name: 'PullRequest without a title',
      base: validPullRequest,
      mutate: (o) => delete o.spec.pullRequest.title,
      field: 'spec.pullRequest.title',
      says: /Required value/,
    },
    {
      name: 'PullRequest with a bad branchPrefix',
      base: validPullRequest,
      mutate: (o) => (o.spec.pullRequest.branchPrefix = 'bad prefix'),
      field: 'spec.pullRequest.branchPrefix',
      says: /valid git branch name/,
    },
    {
      name: 'PullRequest with a GitCommit-only branch',
      base: validPullRequest,
      mutate: (o) => (o.spec.repository.branch = 'main'),
      field: 'spec.repository.branch',
      says: /unknown field/,
    },
  ];

  describe('reject invalid resources, naming the field', () => {
    for (const c of invalid) {
      it(c.name, async () => {
        const obj = (c.base ?? validGitCommit)();
        c.mutate(obj);
        const message = await rejection(plane, obj);
        assert.ok(message.includes(c.field), `message should name ${c.field}: ${message}`);
        assert.match(message, c.says);
      });
    }
  });
});

// The scenario files parse as YAML with the expected kinds (guards the test above against an empty read).
describe('scenario files', () => {
  it("are the users' own, unchanged (when ../shared is beside the checkout)", function () {
    if (!existsSync(sharedScenarioDir)) {
      // A clone on its own has no shared/; CI always has it, so drift is caught there.
      assert.ok(!process.env.CI, `CI must have the users' scenarios at ${sharedScenarioDir}`);
      this.skip();
    }
    for (const file of readdirSync(sharedScenarioDir)) {
      assert.equal(
        readFileSync(join(scenarioDir, file), 'utf8'),
        readFileSync(join(sharedScenarioDir, file), 'utf8'),
        `e2e/scenarios/${file} differs from shared/reference/scenarios: copy it again`,
      );
    }
  });

  it('hold seven GitCommits and one PullRequest', () => {
    const kinds = readdirSync(scenarioDir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => (parse(readFileSync(join(scenarioDir, f), 'utf8')) as Obj).kind);
    assert.deepEqual(kinds.filter((k) => k === 'GitCommit').length, 7);
    assert.deepEqual(kinds.filter((k) => k === 'PullRequest').length, 1);
  });
});
