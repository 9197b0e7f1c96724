// The users' own scenarios (e2e/scenarios, a checked copy of shared/reference/scenarios), applied as
// written with the real kubectl and awaited with `kubectl wait`: only the repository URLs point at the
// target's git server, and the objects they reference exist. One body for every target: the suites
// (scenarios.test.ts, node.test.ts) call `scenarios` inside their describe with how to start theirs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@gco/testenv';
import { parse, stringify } from 'yaml';
import { type E2ETarget, kubectlOk, operatorNamespace as ns } from '../src/e2e-target.ts';
import { RemoteRepository } from '../src/remote-repository.ts';

const today = () => new Date().toISOString().slice(0, 10).replaceAll('-', '');
const noise = ['resourceVersion', 'uid', 'managedFields', 'creationTimestamp', 'generation', 'selfLink'];

/** A dumped file parses as YAML of the object, without what the server fills in. */
function assertDump(text: string | undefined, kind: string, name: string): any {
  assert.ok(text, `a dump of ${kind} ${name}`);
  const obj = parse(text) as any;
  assert.equal(obj.kind, kind);
  assert.equal(obj.metadata.name, name);
  for (const key of noise) assert.ok(!(key in obj.metadata), `metadata.${key} is removed`);
  assert.ok(!('status' in obj), 'status is removed');
  return obj;
}

const configMap = (namespace: string, name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, labels: { app: name } },
  data,
});

/**
 * Registers the eight scenarios, and the hooks that start and stop the target, in the calling describe.
 * Tests the caller registers after this run after the scenarios, against the same target.
 */
export function scenarios(startTarget: () => Promise<E2ETarget>, opts: { startTimeoutMs?: number } = {}): void {
  let target: E2ETarget;
  const repos = new Map<string, RemoteRepository>();
  const repo = (name: string) => repos.get(name) as RemoteRepository;

  const kubectl = (args: string[], input?: string) => kubectlOk(target, args, input);
  const apply = (objects: unknown[]) =>
    kubectl(['apply', '-f', '-'], objects.map((o) => (typeof o === 'string' ? o : stringify(o))).join('---\n'));

  /** A scenario file as written, its github.com URL replaced by the target's git server. */
  async function applyScenario(file: string): Promise<void> {
    const text = readFileSync(join(repoRoot, 'e2e/scenarios', file), 'utf8').replace(
      /url: "https:\/\/github\.com\/([^"]+)"/,
      (_m, name: string) => `url: "${repo(name).url}"`,
    );
    await kubectl(['apply', '-n', ns, '-f', '-'], text);
  }

  async function status(kind: string, name: string): Promise<any> {
    return JSON.parse(await kubectl(['get', kind, name, '-n', ns, '-o', 'json'])).status ?? {};
  }

  async function waitReady(kind: string, name: string, timeout = '120s'): Promise<any> {
    const r = await target.kubectl([
      'wait',
      '--for=condition=Ready',
      `${kind}/${name}`,
      '-n',
      ns,
      `--timeout=${timeout}`,
    ]);
    if (r.code !== 0)
      assert.fail(
        `${kind}/${name} did not become Ready: ${r.stderr}\nstatus: ${JSON.stringify(await status(kind, name))}\n${await target.diagnostics()}`,
      );
    return status(kind, name);
  }

  before(async function () {
    this.timeout(opts.startTimeoutMs ?? 600_000);
    target = await startTarget();
    await apply(
      ['production', 'staging', 'monitoring', 'prod-1', 'prod-2', 'prod-3'].map((name) => ({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name },
      })),
    );
    // The kinds of the Prometheus operator, as its CRDs would serve them.
    await kubectl(['apply', '--server-side', '-f', join(repoRoot, 'e2e/fixtures/monitoring-crds.yaml')]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      '-f',
      join(repoRoot, 'e2e/fixtures/monitoring-crds.yaml'),
    ]);
    await apply(
      ['git-credentials', 'backup-credentials', 'github-token'].map((name) => ({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: ns },
        stringData: { token: target.token },
      })),
    );
    // Fresh repositories for each run, so that a long-lived cluster can run the suite again.
    const run = Date.now().toString(36);
    for (const name of [
      'k8s-multi-cluster-config.git',
      'config-drift-reports.git',
      'cluster-backups.git',
      'gitops-applications.git',
      'monitoring-configs.git',
      'config-batches.git',
      'resilient-configs.git',
      'operator-metrics.git',
    ])
      repos.set(`company/${name}`, await new RemoteRepository(target, `e2e-${run}/${name}`).create());
  });
  after(() => target?.stop());

  it('01 prod-cluster-sync: literal file, fields of a ConfigMap, dumps from kube-system and a NetworkPolicy', async () => {
    await apply([
      configMap('production', 'app-config', { 'database.url': 'postgres://db:5432/app', 'feature.flags': 'a,b\n' }),
      configMap('kube-system', 'infra-config', { region: 'us-east-1' }),
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'network-policies', namespace: 'production' },
        spec: { podSelector: {}, policyTypes: ['Ingress'] },
      },
    ]);
    await applyScenario('01-prod-cluster-sync.yaml');
    const st = await waitReady('gitcommit', 'prod-cluster-sync');
    const r = repo('company/k8s-multi-cluster-config.git');
    await r.fetch();
    assert.match((await r.file('main', 'clusters/production/cluster-info.yaml')) ?? '', /name: "production-east-1"/);
    assert.equal(await r.file('main', 'clusters/production/applications/database.url'), 'postgres://db:5432/app');
    assert.equal(await r.file('main', 'clusters/production/applications/feature.flags'), 'a,b\n');
    const infra = assertDump(
      await r.file('main', 'clusters/production/infrastructure/infra-config.yaml'),
      'ConfigMap',
      'infra-config',
    );
    assert.equal(infra.data.region, 'us-east-1');
    assert.equal(infra.metadata.namespace, 'kube-system');
    const policy = assertDump(
      await r.file('main', 'clusters/production/network-policies.yaml'),
      'NetworkPolicy',
      'network-policies',
    );
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    const [commit] = await r.log('main', '%H%n%an <%ae>%n%s%n%b');
    const [sha, author, subject, ...body] = (commit ?? '').split('\n');
    assert.equal(sha, st.commitSHA, 'status names the commit on the server');
    assert.equal(author, 'Production Cluster <prod-k8s@company.com>');
    assert.equal(subject, 'Sync production cluster configuration');
    assert.match(body.join('\n'), /Gco-Source: GitCommit\/git-change-operator-system\/prod-cluster-sync/);
    assert.match(body.join('\n'), /Gco-Execution: \S+/);
    const columns = await kubectl(['get', 'gitcommit', 'prod-cluster-sync', '-n', ns]);
    assert.match(
      columns.split('\n')[1] ?? '',
      new RegExp(`\\b${st.shortCommitSHA}\\b`),
      'kubectl get shows the commit',
    );
  });

  it('02 drift-detection: append mode, dated paths, default branch, $(date) in the message', async () => {
    await apply([
      configMap('production', 'current-config', { replicas: '3' }),
      configMap('staging', 'expected-config', { replicas: '2' }),
    ]);
    await applyScenario('02-drift-detection.yaml');
    const st = await waitReady('gitcommit', 'drift-detection');
    assert.equal(st.branch, 'main', 'the default branch was resolved');
    const r = repo('company/config-drift-reports.git');
    await r.fetch();
    assert.match(
      (await r.file('main', 'reports/drift-summary.log')) ?? '',
      /^=== Drift Detection Report: 2023-10-01T10:00:00Z ===\nCluster: production-east-1\n/,
    );
    const current = await r.file('main', `snapshots/production/current-config-${today()}.yaml`);
    assert.ok(current?.startsWith('---\n'), 'an appended YAML dump starts a new document');
    assertDump(current, 'ConfigMap', 'current-config');
    assertDump(
      await r.file('main', `snapshots/expected/staging-config-${today()}.yaml`),
      'ConfigMap',
      'expected-config',
    );
    const [subject] = await r.log('main', '%s');
    assert.match(
      subject ?? '',
      /^Configuration drift report - (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}$/,
    );
  });

  it('03 disaster-recovery-backup: a new branch, a single Secret key, a PVC; the private key stays out', async () => {
    await apply([
      configMap('production', 'app-config', { 'database.url': 'postgres://db:5432/app', 'feature.flags': 'a,b\n' }),
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'tls-certificates', namespace: 'production' },
        type: 'kubernetes.io/tls',
        stringData: {
          'tls.crt': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
          'tls.key': 'PRIVATE-KEY-DO-NOT-EXPORT',
        },
      },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'database-pvc', namespace: 'production' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
      },
    ]);
    await applyScenario('03-disaster-recovery-backup.yaml');
    await waitReady('gitcommit', 'disaster-recovery-backup');
    const r = repo('company/cluster-backups.git');
    await r.fetch();
    const branch = 'backups/production';
    const d = today();
    assert.match((await r.file(branch, `backup-metadata/${d}/cluster-info.yaml`)) ?? '', /backup_type: "full"/);
    assertDump(await r.file(branch, `backups/${d}/configmaps/app-config.yaml`), 'ConfigMap', 'app-config');
    assert.equal(
      await r.file(branch, `backups/${d}/certificates/tls.crt`),
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    );
    const pvc = assertDump(
      await r.file(branch, `backups/${d}/storage/database-pvc.yaml`),
      'PersistentVolumeClaim',
      'database-pvc',
    );
    assert.equal(pvc.spec.resources.requests.storage, '10Gi');
    assert.deepEqual(await r.grep(branch, 'PRIVATE-KEY-DO-NOT-EXPORT'), [], 'the private key was not exported');
  });

  it('04 argocd-app-sync: a head branch with the dumps and one open pull request', async () => {
    await apply([
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web-app', namespace: 'production' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'api-service', namespace: 'production' },
        spec: { ports: [{ port: 80 }], selector: { app: 'api' } },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'main-ingress', namespace: 'production' },
        spec: { defaultBackend: { service: { name: 'api-service', port: { number: 80 } } } },
      },
    ]);
    await applyScenario('04-argocd-app-sync.yaml');
    const st = await waitReady('pullrequest', 'argocd-app-sync');
    assert.match(st.headBranch, /^argocd-sync-\d{14}$/);
    assert.equal(st.pullRequestState, 'OPEN');
    const r = repo('company/gitops-applications.git');
    await r.fetch();
    const deployment = assertDump(
      await r.file(st.headBranch, 'applications/web-app/deployment.yaml'),
      'Deployment',
      'web-app',
    );
    assert.equal(deployment.spec.replicas, 3);
    assertDump(await r.file(st.headBranch, 'applications/api-service/service.yaml'), 'Service', 'api-service');
    assertDump(await r.file(st.headBranch, 'networking/ingress.yaml'), 'Ingress', 'main-ingress');
    assert.equal((await r.log(st.headBranch, '%H')).length, 2, 'the base plus one commit');
    // The pull request as GitHub's API answers for it.
    const [owner, name] = r.name.replace(/\.git$/, '').split('/');
    const res = await fetch(target.suiteUrl('api/graphql'), {
      method: 'POST',
      headers: { authorization: `bearer ${target.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          'query($o:String!,$n:String!,$p:Int!){repository(owner:$o,name:$n){pullRequest(number:$p){title body state baseRefName headRefName url}}}',
        variables: { o: owner, n: name, p: st.pullRequestNumber },
      }),
    });
    const { body, url, ...pr } = ((await res.json()) as any).data?.repository?.pullRequest ?? {};
    assert.deepEqual(pr, {
      title: '🔄 Sync Application Manifests from Cluster',
      state: 'OPEN',
      baseRefName: 'main',
      headRefName: st.headBranch,
    });
    assert.match(body, /^## ArgoCD Application Sync\n/);
    assert.equal(st.pullRequestURL, url);
    const columns = await kubectl(['get', 'gpr', 'argocd-app-sync', '-n', ns]);
    assert.match(columns.split('\n')[1] ?? '', new RegExp(`Created\\s+${st.pullRequestNumber}\\s+http`));
  });

  it('05 prometheus-config-backup: custom resources and a Secret key with a dot', async () => {
    await apply([
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name: 'app-rules', namespace: 'monitoring' },
        spec: { groups: [{ name: 'app', rules: [{ alert: 'HighErrorRate', expr: 'rate(errors[5m]) > 1' }] }] },
      },
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'api-service-monitor', namespace: 'production' },
        spec: { selector: { matchLabels: { app: 'api' } }, endpoints: [{ port: 'metrics' }] },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'alertmanager-config', namespace: 'monitoring' },
        stringData: { 'alertmanager.yml': 'route:\n  receiver: team\n' },
      },
    ]);
    await applyScenario('05-prometheus-config-backup.yaml');
    await waitReady('gitcommit', 'prometheus-config-backup');
    const r = repo('company/monitoring-configs.git');
    await r.fetch();
    const rules = assertDump(await r.file('main', 'prometheus/rules/app-rules.yaml'), 'PrometheusRule', 'app-rules');
    assert.equal(rules.spec.groups[0].rules[0].alert, 'HighErrorRate');
    assertDump(
      await r.file('main', 'prometheus/service-monitors/api-service.yaml'),
      'ServiceMonitor',
      'api-service-monitor',
    );
    assert.equal(await r.file('main', 'alertmanager/config.yml'), 'route:\n  receiver: team\n');
  });

  it('06 batch-config-update: fields of ConfigMaps from three namespaces', async () => {
    await apply([1, 2, 3].map((i) => configMap(`prod-${i}`, `app-config-${i}`, { 'settings.yaml': `batch: ${i}\n` })));
    await applyScenario('06-batch-config-update.yaml');
    await waitReady('gitcommit', 'batch-config-update');
    const r = repo('company/config-batches.git');
    await r.fetch();
    for (const i of [1, 2, 3]) assert.equal(await r.file('main', `batch-1/prod-${i}/settings.yaml`), `batch: ${i}\n`);
    assert.match((await r.file('main', 'batch-info.yaml')) ?? '', /resources_count: 50/);
  });

  it('07 resilient-sync: a missing reference is retried, then committed once, when it appears', async () => {
    await kubectl(['delete', 'configmap', 'optional-config', '-n', 'production', '--ignore-not-found']);
    await apply([configMap('production', 'critical-config', { mode: 'strict' })]);
    await applyScenario('07-resilient-sync.yaml');
    // optional-config does not exist yet: the execution fails and is retried with backoff.
    const waited = await target.kubectl([
      'wait',
      '--for=jsonpath={.status.conditions[?(@.type=="Ready")].reason}=ResourceNotFound',
      'gitcommit/resilient-sync',
      '-n',
      ns,
      '--timeout=60s',
    ]);
    assert.equal(waited.code, 0, `${waited.stderr}\n${await target.diagnostics()}`);
    const failing = await status('gitcommit', 'resilient-sync');
    assert.match(failing.message, /optional-config/);
    const r = repo('company/resilient-configs.git');
    await r.fetch();
    assert.equal(await r.file('main', 'critical/config.yaml'), undefined, 'nothing half-written');
    await apply([configMap('production', 'optional-config', { extra: 'enabled' })]);
    const st = await waitReady('gitcommit', 'resilient-sync', '180s');
    await r.fetch();
    assertDump(await r.file('main', 'critical/config.yaml'), 'ConfigMap', 'critical-config');
    assert.equal(await r.file('main', 'optional/extra'), 'enabled');
    assert.ok(st.executionHistory[0].attempts >= 2, 'the execution was retried');
    const executions = await r.log('main', '%(trailers:key=Gco-Execution,valueonly)');
    assert.equal(executions.filter((e) => e.trim()).length, 1, 'one commit');
  });

  it('08 metrics-collection: append mode, a single ConfigMap key in the operator namespace', async () => {
    await apply([configMap(ns, 'operator-metrics', { 'prometheus-metrics': 'gco_executions_total 3\n' })]);
    await applyScenario('08-metrics-collection.yaml');
    await waitReady('gitcommit', 'metrics-collection');
    const r = repo('company/operator-metrics.git');
    await r.fetch();
    assert.equal(await r.file('main', `metrics/${today()}/prometheus.txt`), 'gco_executions_total 3\n');
    assert.match(
      (await r.file('main', `metrics/${today()}/operator-performance.log`)) ?? '',
      /^timestamp: 2023-10-01T10:00:00Z\n/,
    );
  });
}
