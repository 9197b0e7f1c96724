import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createRegistry } from '@gco/common/telemetry';
import { observeState, SidecarMetrics } from '@gco/git-sidecar/metrics';
import { ExecutionMetrics } from '@gco/operator/execution-metrics';
import { RuntimeMetrics } from '@gco/operator/runtime-metrics';
import { type ControlPlane, repoRoot, sharedControlPlane } from '@gco/testenv';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { parseAllDocuments } from 'yaml';

describe('manifests (kustomize)', function () {
  this.timeout(120_000);
  let plane: ControlPlane;
  before(async function () {
    this.timeout(120_000);
    plane = await sharedControlPlane();
    await plane.ensureNamespace('git-change-operator-system');
  });

  for (const overlay of ['default', 'overlays/development', 'overlays/production', 'overlays/e2e']) {
    it(`${overlay} renders with kubectl kustomize and applies with a server-side dry run`, async () => {
      const dir = join(repoRoot, 'manifests', overlay);
      const built = await plane.kubectl(['kustomize', dir]);
      assert.equal(built.code, 0, built.stderr);
      const docs = parseAllDocuments(built.stdout).map((d) => d.toJS() as any);
      const kinds = docs.map((d) => d.kind);
      for (const k of [
        'CustomResourceDefinition',
        'ServiceAccount',
        'ClusterRole',
        'ClusterRoleBinding',
        'StatefulSet',
        'Namespace',
      ]) {
        assert.ok(kinds.includes(k), `${overlay} has a ${k}`);
      }
      const applied = await plane.kubectl(
        ['apply', '--server-side', '--dry-run=server', '--force-conflicts', '-f', '-'],
        { input: built.stdout },
      );
      assert.equal(applied.code, 0, applied.stderr);
      const sts = docs.find((d) => d.kind === 'StatefulSet');
      const pod = sts.spec.template.spec;
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
      for (const c of pod.containers) {
        // The development overlay lets Tilt's live update write the synced sources.
        if (overlay !== 'overlays/development') assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
        assert.ok(c.resources.requests && c.resources.limits, c.name);
      }
      assert.deepEqual(
        pod.containers.map((c: any) => c.name),
        ['manager', 'git-sidecar'],
      );
      assert.equal(sts.spec.replicas, overlay.endsWith('production') ? 2 : 1);
      assert.ok(sts.spec.volumeClaimTemplates[0].metadata.name === 'clones');
      // The metrics Service reaches both containers' /metrics ports, which their flags serve.
      const service = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'git-change-operator-metrics');
      for (const [container, port] of [
        ['manager', 8080],
        ['git-sidecar', 8082],
      ] as const) {
        const c = pod.containers.find((x: any) => x.name === container);
        const named = c.ports.find((p: any) => p.containerPort === port)?.name;
        assert.ok(named, `${container} declares port ${port}`);
        assert.ok(c.args.includes(`--metrics-address=:${port}`), `${container} serves metrics on ${port}`);
        assert.ok(c.livenessProbe?.httpGet, `${container} has a liveness probe`);
        assert.ok(
          service.spec.ports.some((p: any) => p.targetPort === named),
          `the metrics Service targets ${named}`,
        );
      }
      const gitServer = docs.some((d) => d.kind === 'Deployment' && d.metadata.name === 'gco-dev-git-server');
      assert.equal(
        gitServer,
        ['overlays/development', 'overlays/e2e'].includes(overlay),
        'only development and e2e run the development git server',
      );
    });
  }

  it('prometheus: the ServiceMonitor selects the metrics Service and names its ports', async () => {
    await plane.installCrds([join(repoRoot, 'e2e/fixtures/monitoring-crds.yaml')]);
    const built = await plane.kubectl(['kustomize', join(repoRoot, 'manifests/prometheus')]);
    assert.equal(built.code, 0, built.stderr);
    const monitor = parseAllDocuments(built.stdout)
      .map((d) => d.toJS() as any)
      .find((d) => d.kind === 'ServiceMonitor');
    const service = parseAllDocuments((await plane.kubectl(['kustomize', join(repoRoot, 'manifests/manager')])).stdout)
      .map((d) => d.toJS() as any)
      .find((d) => d.kind === 'Service');
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels))
      assert.equal(service.metadata.labels[k], v, `the Service has ${k}=${v}`);
    assert.deepEqual(
      monitor.spec.endpoints.map((e: any) => e.port),
      service.spec.ports.map((p: any) => p.name),
    );
    const applied = await plane.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], {
      input: built.stdout,
    });
    assert.equal(applied.code, 0, applied.stderr);
  });

  it('prometheus: every alert parses as PromQL and names only metrics the two processes export', async () => {
    const built = await plane.kubectl(['kustomize', join(repoRoot, 'manifests/prometheus')]);
    const rule = parseAllDocuments(built.stdout)
      .map((d) => d.toJS() as any)
      .find((d) => d.kind === 'PrometheusRule');
    const registry = createRegistry();
    new RuntimeMetrics(registry);
    RuntimeMetrics.leader(registry, () => true);
    new ExecutionMetrics(registry);
    new SidecarMetrics(registry);
    observeState(registry, { queueDepths: () => new Map(), cloneBytes: () => 0, clones: () => 0 });
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    const alerts = rule.spec.groups.flatMap((g: any) => g.rules);
    assert.ok(alerts.length >= 5);
    for (const alert of alerts) {
      let error: string | undefined;
      promql.parse(alert.expr).iterate({
        enter: (node) => {
          if (node.type.isError) error ??= `at ${node.from}`;
        },
      });
      assert.equal(error, undefined, `${alert.alert}: ${alert.expr} does not parse (${error})`);
      const names = [...alert.expr.matchAll(/\bgco_\w+/g)].map((m: RegExpMatchArray) => m[0]);
      assert.ok(names.length > 0, alert.alert);
      for (const name of names)
        assert.ok(
          exported.has(name.replace(/_(bucket|count|sum)$/, '')),
          `${alert.alert} uses ${name}, which nothing exports`,
        );
      assert.ok(alert.annotations?.summary && alert.labels?.severity, `${alert.alert} has a summary and a severity`);
    }
  });

  it('dev/samples: the samples, pointed at the development git server with its token, apply', async () => {
    const built = await plane.kubectl(['kustomize', join(repoRoot, 'manifests/dev/samples')]);
    assert.equal(built.code, 0, built.stderr);
    const docs = parseAllDocuments(built.stdout).map((d) => d.toJS() as any);
    const commit = docs.find((d) => d.kind === 'GitCommit');
    assert.equal(
      commit.spec.repository.url,
      'http://gco-dev-git-server.git-change-operator-system.svc/platform/cluster-config.git',
    );
    const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === commit.spec.auth.secretName);
    assert.equal(secret?.metadata.namespace, commit.metadata.namespace, 'the credentials are beside the GitCommit');
    const server = await plane.kubectl(['kustomize', join(repoRoot, 'manifests/dev/git-server')]);
    const serverSecret = parseAllDocuments(server.stdout)
      .map((d) => d.toJS() as any)
      .find((d) => d.kind === 'Secret');
    assert.deepEqual(secret.data, serverSecret.data, "the samples carry the development git server's token");
    const applied = await plane.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], {
      input: built.stdout,
    });
    assert.equal(applied.code, 0, applied.stderr);
  });
});
