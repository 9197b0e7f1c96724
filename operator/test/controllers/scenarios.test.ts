// The users' own scenarios (e2e/scenarios, a checked copy of shared/reference/scenarios), applied as
// written: only the repository URLs point at the local git server, and the objects they reference exist.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runOk } from '@gco/testenv';
import { parse } from 'yaml';
import { fileAt } from '../../../git-sidecar/test/support.ts';
import { type Environment, getStatus, startEnvironment, tokenSecret, waitReady } from '../support.ts';

const ns = 'git-change-operator-system';
const today = () => new Date().toISOString().slice(0, 10).replaceAll('-', '');

function scenario(file: string, repoUrl: (original: string) => string): string {
  const text = readFileSync(join(repoRoot, 'e2e/scenarios', file), 'utf8');
  return text.replace(/url: "(https:\/\/github\.com\/[^"]+)"/, (_m, url: string) => `url: "${repoUrl(url)}"`);
}

const configMap = (namespace: string, name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, labels: { app: name } },
  data,
});

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

async function lastCommit(gitDir: string, branch: string): Promise<{ author: string; subject: string; body: string }> {
  const out = await runOk('git', [
    '--git-dir',
    gitDir,
    'log',
    '-1',
    '--format=%an <%ae>%x00%s%x00%b',
    `refs/heads/${branch}`,
  ]);
  const [author = '', subject = '', body = ''] = out.split('\0');
  return { author, subject, body };
}

describe("GitCommit controller: the users' scenarios as written", function () {
  this.timeout(300_000);
  let env: Environment;
  const repos = new Map<string, string>();
  const url = (original: string) => {
    const name = original.replace('https://github.com/', '');
    return env.git.url(name);
  };
  const gitDir = (name: string) => join(env.root, 'repos/company', name);

  before(async function () {
    this.timeout(180_000);
    env = await startEnvironment();
    for (const n of ['production', 'staging', 'monitoring', 'prod-1', 'prod-2', 'prod-3'])
      await env.plane.ensureNamespace(n);
    for (const name of [
      'k8s-multi-cluster-config.git',
      'config-drift-reports.git',
      'cluster-backups.git',
      'monitoring-configs.git',
      'config-batches.git',
      'resilient-configs.git',
      'operator-metrics.git',
    ]) {
      repos.set(name, (await env.repository(`company/${name}`, { files: 2 })).url);
    }
    await env.apply(tokenSecret('git-credentials', ns));
    await env.apply(tokenSecret('backup-credentials', ns));
    // The kinds of the Prometheus operator, as its CRDs would serve them.
    await env.plane.installCrds([join(import.meta.dirname, '../fixtures/monitoring-crds.yaml')]);
  });
  after(() => env?.stop());

  it('01 prod-cluster-sync: literal file, fields of a ConfigMap, dumps from kube-system and a NetworkPolicy', async () => {
    await env.apply(
      configMap('production', 'app-config', { 'database.url': 'postgres://db:5432/app', 'feature.flags': 'a,b\n' }),
    );
    await env.apply(configMap('kube-system', 'infra-config', { region: 'us-east-1' }));
    await env.apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'network-policies', namespace: 'production' },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });
    await env.apply(scenario('01-prod-cluster-sync.yaml', url));
    await waitReady(env, 'gitcommit', 'prod-cluster-sync');
    const dir = gitDir('k8s-multi-cluster-config.git');
    assert.match(
      (await fileAt(dir, 'main', 'clusters/production/cluster-info.yaml')) ?? '',
      /name: "production-east-1"/,
    );
    assert.equal(await fileAt(dir, 'main', 'clusters/production/applications/database.url'), 'postgres://db:5432/app');
    assert.equal(await fileAt(dir, 'main', 'clusters/production/applications/feature.flags'), 'a,b\n');
    const infra = assertDump(
      await fileAt(dir, 'main', 'clusters/production/infrastructure/infra-config.yaml'),
      'ConfigMap',
      'infra-config',
    );
    assert.equal(infra.data.region, 'us-east-1');
    assert.equal(infra.metadata.namespace, 'kube-system');
    const policy = assertDump(
      await fileAt(dir, 'main', 'clusters/production/network-policies.yaml'),
      'NetworkPolicy',
      'network-policies',
    );
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    const commit = await lastCommit(dir, 'main');
    assert.equal(commit.author, 'Production Cluster <prod-k8s@company.com>');
    assert.equal(commit.subject, 'Sync production cluster configuration');
    assert.match(commit.body, /Gco-Source: GitCommit\/git-change-operator-system\/prod-cluster-sync/);
    assert.match(commit.body, /Gco-Execution: \S+/);
  });

  it('02 drift-detection: append mode, dated paths, default branch, $(date) in the message', async () => {
    await env.apply(configMap('production', 'current-config', { replicas: '3' }));
    await env.apply(configMap('staging', 'expected-config', { replicas: '2' }));
    await env.apply(scenario('02-drift-detection.yaml', url));
    await waitReady(env, 'gitcommit', 'drift-detection');
    const dir = gitDir('config-drift-reports.git');
    const report = await fileAt(dir, 'main', 'reports/drift-summary.log');
    assert.match(report ?? '', /^=== Drift Detection Report: 2023-10-01T10:00:00Z ===\nCluster: production-east-1\n/);
    const current = await fileAt(dir, 'main', `snapshots/production/current-config-${today()}.yaml`);
    assert.ok(current?.startsWith('---\n'), 'an appended YAML dump starts a new document');
    assertDump(current, 'ConfigMap', 'current-config');
    assertDump(
      await fileAt(dir, 'main', `snapshots/expected/staging-config-${today()}.yaml`),
      'ConfigMap',
      'expected-config',
    );
    const commit = await lastCommit(dir, 'main');
    assert.match(
      commit.subject,
      /^Configuration drift report - (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}$/,
    );
    const status = await getStatus(env, 'gitcommit', 'drift-detection');
    assert.equal(status.branch, 'main', 'the default branch was resolved');
  });

  it('03 disaster-recovery-backup: a new branch, a single Secret key, a PVC', async () => {
    await env.apply(
      configMap('production', 'app-config', { 'database.url': 'postgres://db:5432/app', 'feature.flags': 'a,b\n' }),
    );
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'tls-certificates', namespace: 'production' },
      type: 'kubernetes.io/tls',
      stringData: {
        'tls.crt': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
        'tls.key': 'PRIVATE-KEY-DO-NOT-EXPORT',
      },
    });
    await env.apply({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'database-pvc', namespace: 'production' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
    });
    await env.apply(scenario('03-disaster-recovery-backup.yaml', url));
    await waitReady(env, 'gitcommit', 'disaster-recovery-backup');
    const dir = gitDir('cluster-backups.git');
    const branch = 'backups/production';
    const d = today();
    assert.match((await fileAt(dir, branch, `backup-metadata/${d}/cluster-info.yaml`)) ?? '', /backup_type: "full"/);
    assertDump(await fileAt(dir, branch, `backups/${d}/configmaps/app-config.yaml`), 'ConfigMap', 'app-config');
    assert.equal(
      await fileAt(dir, branch, `backups/${d}/certificates/tls.crt`),
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    );
    const pvc = assertDump(
      await fileAt(dir, branch, `backups/${d}/storage/database-pvc.yaml`),
      'PersistentVolumeClaim',
      'database-pvc',
    );
    assert.equal(pvc.spec.resources.requests.storage, '10Gi');
    const all = await runOk('git', [
      '--git-dir',
      dir,
      'grep',
      '-c',
      'PRIVATE-KEY-DO-NOT-EXPORT',
      `refs/heads/${branch}`,
    ]).catch(() => '');
    assert.equal(all, '', 'the private key was not exported');
  });

  it('05 prometheus-config-backup: custom resources and a Secret key with a dot', async () => {
    await env.apply({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'app-rules', namespace: 'monitoring' },
      spec: { groups: [{ name: 'app', rules: [{ alert: 'HighErrorRate', expr: 'rate(errors[5m]) > 1' }] }] },
    });
    await env.apply({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'api-service-monitor', namespace: 'production' },
      spec: { selector: { matchLabels: { app: 'api' } }, endpoints: [{ port: 'metrics' }] },
    });
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'alertmanager-config', namespace: 'monitoring' },
      stringData: { 'alertmanager.yml': 'route:\n  receiver: team\n' },
    });
    await env.apply(scenario('05-prometheus-config-backup.yaml', url));
    await waitReady(env, 'gitcommit', 'prometheus-config-backup');
    const dir = gitDir('monitoring-configs.git');
    const rules = assertDump(
      await fileAt(dir, 'main', 'prometheus/rules/app-rules.yaml'),
      'PrometheusRule',
      'app-rules',
    );
    assert.equal(rules.spec.groups[0].rules[0].alert, 'HighErrorRate');
    assertDump(
      await fileAt(dir, 'main', 'prometheus/service-monitors/api-service.yaml'),
      'ServiceMonitor',
      'api-service-monitor',
    );
    assert.equal(await fileAt(dir, 'main', 'alertmanager/config.yml'), 'route:\n  receiver: team\n');
  });

  it('06 batch-config-update: fields of ConfigMaps from three namespaces', async () => {
    for (const i of [1, 2, 3])
      await env.apply(configMap(`prod-${i}`, `app-config-${i}`, { 'settings.yaml': `batch: ${i}\n` }));
    await env.apply(scenario('06-batch-config-update.yaml', url));
    await waitReady(env, 'gitcommit', 'batch-config-update');
    const dir = gitDir('config-batches.git');
    for (const i of [1, 2, 3])
      assert.equal(await fileAt(dir, 'main', `batch-1/prod-${i}/settings.yaml`), `batch: ${i}\n`);
    assert.match((await fileAt(dir, 'main', 'batch-info.yaml')) ?? '', /resources_count: 50/);
  });

  it('07 resilient-sync: a missing reference is retried, then committed once it appears', async () => {
    await env.apply(configMap('production', 'critical-config', { mode: 'strict' }));
    await env.apply(scenario('07-resilient-sync.yaml', url));
    // optional-config does not exist yet: the execution fails and is retried with backoff.
    const dir = gitDir('resilient-configs.git');
    const deadline = Date.now() + 30_000;
    let status: any = {};
    while (Date.now() < deadline) {
      status = await getStatus(env, 'gitcommit', 'resilient-sync');
      if (status.conditions?.some((c: any) => c.type === 'Ready' && c.reason === 'ResourceNotFound')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(
      status.conditions?.some(
        (c: any) => c.type === 'Ready' && c.status === 'False' && c.reason === 'ResourceNotFound',
      ),
      JSON.stringify(status),
    );
    assert.match(status.message, /optional-config/);
    assert.equal(await fileAt(dir, 'main', 'critical/config.yaml'), undefined, 'nothing half-written');
    await env.apply(configMap('production', 'optional-config', { extra: 'enabled' }));
    await waitReady(env, 'gitcommit', 'resilient-sync', ns, '120s');
    assertDump(await fileAt(dir, 'main', 'critical/config.yaml'), 'ConfigMap', 'critical-config');
    assert.equal(await fileAt(dir, 'main', 'optional/extra'), 'enabled');
    status = await getStatus(env, 'gitcommit', 'resilient-sync');
    assert.ok(status.executionHistory[0].attempts >= 2);
    const executions = await runOk('git', [
      '--git-dir',
      dir,
      'log',
      '--format=%(trailers:key=Gco-Execution,valueonly)',
      'refs/heads/main',
    ]);
    assert.equal(executions.trim().split('\n').filter(Boolean).length, 1, 'one commit');
  });

  it('08 metrics-collection: append mode, a single ConfigMap key in the operator namespace', async () => {
    await env.apply(configMap(ns, 'operator-metrics', { 'prometheus-metrics': 'gco_executions_total 3\n' }));
    await env.apply(scenario('08-metrics-collection.yaml', url));
    await waitReady(env, 'gitcommit', 'metrics-collection');
    const dir = gitDir('operator-metrics.git');
    assert.equal(await fileAt(dir, 'main', `metrics/${today()}/prometheus.txt`), 'gco_executions_total 3\n');
    assert.match(
      (await fileAt(dir, 'main', `metrics/${today()}/operator-performance.log`)) ?? '',
      /^timestamp: 2023-10-01T10:00:00Z\n/,
    );
  });
});
