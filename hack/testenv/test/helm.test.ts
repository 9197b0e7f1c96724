// The Helm chart (charts/git-change-operator) against the kustomize manifests it must not drift from, the
// processes that read its flags, and real API servers: the shared one for server-side dry runs, and a
// fresh one for a real `helm install`, upgrade and uninstall.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { authorPattern } from '@gco/common/validation';
import { parseConfig as parseSidecarConfig } from '@gco/git-sidecar/config';
import { parseConfig as parseOperatorConfig } from '@gco/operator/config';
import {
  aggregateClusterRoles,
  ControlPlane,
  helmBinary,
  type RunResult,
  repoRoot,
  run,
  sharedControlPlane,
  tempDir,
} from '@gco/testenv';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

const chart = join(repoRoot, 'charts/git-change-operator');
const release = 'git-change-operator';
const operatorNamespace = 'git-change-operator-system';
/** What the chart adds to each object's own labels; everything else must equal the kustomize output. */
const helmLabels = [
  'helm.sh/chart',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
];
/** Helm's instructions on an object's own metadata: the Namespace is kept on uninstall. */
const helmAnnotations = ['helm.sh/resource-policy'];

type Obj = Record<string, any>;

const docsOf = (yaml: string): Obj[] =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);

const keyOf = (o: Obj) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`;

function withoutHelmMetadata(o: Obj): Obj {
  const copy = structuredClone(o);
  for (const [field, keys] of [
    ['labels', helmLabels],
    ['annotations', helmAnnotations],
  ] as const) {
    const map = copy.metadata[field] as Record<string, string> | undefined;
    if (!map) continue;
    for (const key of keys) delete map[key];
    if (Object.keys(map).length === 0) delete copy.metadata[field];
  }
  return copy;
}

describe('Helm chart (charts/git-change-operator)', function () {
  this.timeout(120_000);
  let helmPath: string;
  let plane: ControlPlane;
  let helmHome: string;

  const helm = async (args: string[], opts: { kubeconfig?: string } = {}): Promise<RunResult> =>
    run(helmPath, args, {
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_DATA_HOME: join(helmHome, 'data'),
        ...(opts.kubeconfig ? { KUBECONFIG: opts.kubeconfig } : {}),
      },
    });
  const template = async (values: string[] = [], extra: string[] = []): Promise<RunResult> =>
    helm(['template', release, chart, '--include-crds', ...values.flatMap((v) => ['--set', v]), ...extra]);
  const render = async (values: string[] = [], extra: string[] = []): Promise<Obj[]> => {
    const out = await template(values, extra);
    assert.equal(out.code, 0, out.stderr);
    return docsOf(out.stdout);
  };
  const kustomize = async (dir: string): Promise<Obj[]> => {
    const out = await plane.kubectl(['kustomize', join(repoRoot, 'manifests', dir)]);
    assert.equal(out.code, 0, out.stderr);
    return docsOf(out.stdout);
  };

  before(async function () {
    // Without `npm run setup` this builds helm first (minutes, once).
    this.timeout(1_800_000);
    helmPath = await helmBinary();
    helmHome = await tempDir('gco-helm-');
    plane = await sharedControlPlane();
  });

  it('passes helm lint --strict with the default and the production values', async () => {
    for (const values of [[], ['replicas=2']]) {
      const out = await helm(['lint', '--strict', chart, ...values.flatMap((v) => ['--set', v])]);
      assert.equal(out.code, 0, `${values}: ${out.stdout}${out.stderr}`);
      assert.doesNotMatch(out.stdout, /\[(WARNING|ERROR)\]/, out.stdout);
      assert.match(out.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it("is the operator's version", () => {
    const chartYaml = parseYaml(readFileSync(join(chart, 'Chart.yaml'), 'utf8'));
    const operator = JSON.parse(readFileSync(join(repoRoot, 'operator/package.json'), 'utf8'));
    assert.equal(chartYaml.appVersion, operator.version);
  });

  // The drift check: the same objects, field for field, but for Helm's own labels and annotations.
  const cases: Array<{ overlay: string; values: string[]; without?: string }> = [
    { overlay: 'default', values: [] },
    { overlay: 'overlays/production', values: ['replicas=2'] },
    // The e2e overlay is the default installation with :dev images, plus the development git server.
    { overlay: 'overlays/e2e', values: ['manager.image.tag=dev', 'sidecar.image.tag=dev'], without: 'dev/git-server' },
  ];
  for (const { overlay, values, without } of cases) {
    it(`renders the objects of manifests/${overlay} with ${values.length ? values.join(', ') : 'the default values'}`, async () => {
      const fromHelm = new Map((await render(values)).map((o) => [keyOf(o), withoutHelmMetadata(o)]));
      const excluded = new Set(without ? (await kustomize(without)).map(keyOf) : []);
      const fromKustomize = new Map(
        (await kustomize(overlay)).filter((o) => !excluded.has(keyOf(o))).map((o) => [keyOf(o), o]),
      );
      assert.ok(fromKustomize.size >= 12, `manifests/${overlay} rendered ${fromKustomize.size} objects`);
      assert.deepEqual([...fromHelm.keys()].sort(), [...fromKustomize.keys()].sort(), 'the same objects');
      for (const [key, object] of fromKustomize) assert.deepEqual(fromHelm.get(key), object, key);
    });
  }

  it('puts Helm labels only on the objects themselves, never in a selector or the pod template', async () => {
    const docs = await render();
    for (const o of docs.filter((d) => d.kind !== 'CustomResourceDefinition'))
      assert.equal(o.metadata.labels?.['app.kubernetes.io/instance'], release, keyOf(o));
    const sts = docs.find((d) => d.kind === 'StatefulSet') as Obj;
    const service = docs.find((d) => d.kind === 'Service') as Obj;
    for (const labels of [sts.spec.selector.matchLabels, sts.spec.template.metadata.labels, service.spec.selector])
      for (const key of helmLabels) assert.ok(!(key in labels), key);
  });

  it('passes the values users set to both processes, whose own flag parsers accept them', async () => {
    const docs = await render([
      'namespace.name=gco-custom',
      'manager.image.repository=registry.example.com/gco/operator',
      'manager.image.tag=0.1.0',
      'manager.image.pullPolicy=IfNotPresent',
      'sidecar.image.repository=registry.example.com/gco/git-sidecar',
      'sidecar.image.tag=0.1.0',
      'manager.watchNamespaces={team-a,team-b}',
      'manager.trustedNamespaces={platform}',
      'manager.defaultAuthor=Platform Bot <bot@example.com>',
      'manager.extraArgs={--allow-secret-export,--concurrency=8}',
      'manager.extraEnv[0].name=EXTRA',
      'manager.extraEnv[0].value=on',
      'sidecar.extraArgs={--max-batch=50}',
      'logLevel=debug',
      'opentelemetry.endpoint=http://collector.observability.svc:4318',
      'opentelemetry.env.OTEL_EXPORTER_OTLP_PROTOCOL=grpc',
      'clones.size=20Gi',
      'clones.storageClassName=fast',
      'clones.diskBudget=16Gi',
      'terminationGracePeriodSeconds=150',
      'metrics.enabled=false',
      'nodeSelector.disk=ssd',
    ]);
    assert.ok(!docs.some((d) => d.kind === 'Service'), 'metrics.enabled=false: no metrics Service');
    for (const o of docs.filter((d) => d.kind !== 'CustomResourceDefinition' && d.metadata.namespace))
      assert.equal(o.metadata.namespace, 'gco-custom', keyOf(o));
    for (const binding of docs.filter((d) => d.kind.endsWith('Binding')))
      assert.deepEqual(
        binding.subjects.map((s: Obj) => s.namespace),
        ['gco-custom'],
        keyOf(binding),
      );
    assert.equal(docs.find((d) => d.kind === 'Namespace')?.metadata.name, 'gco-custom');

    const sts = docs.find((d) => d.kind === 'StatefulSet') as Obj;
    const pod = sts.spec.template.spec;
    assert.equal(pod.terminationGracePeriodSeconds, 150);
    assert.deepEqual(pod.nodeSelector, { disk: 'ssd' });
    const claim = sts.spec.volumeClaimTemplates[0].spec;
    assert.equal(claim.storageClassName, 'fast');
    assert.equal(claim.resources.requests.storage, '20Gi');
    const [manager, sidecar] = pod.containers as [Obj, Obj];
    assert.equal(manager.image, 'registry.example.com/gco/operator:0.1.0');
    assert.equal(manager.imagePullPolicy, 'IfNotPresent');
    assert.equal(sidecar.image, 'registry.example.com/gco/git-sidecar:0.1.0');
    assert.equal(sidecar.imagePullPolicy, undefined);
    for (const c of [manager, sidecar]) {
      const env = Object.fromEntries(c.env.filter((e: Obj) => 'value' in e).map((e: Obj) => [e.name, e.value]));
      assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://collector.observability.svc:4318', c.name);
      assert.equal(env.OTEL_EXPORTER_OTLP_PROTOCOL, 'grpc', c.name);
    }
    assert.ok(manager.env.some((e: Obj) => e.name === 'EXTRA' && e.value === 'on'));
    assert.deepEqual(
      manager.ports.map((p: Obj) => p.name),
      ['health'],
      'no metrics port when the manager serves no metrics',
    );

    const operator = parseOperatorConfig(manager.args, { POD_NAMESPACE: 'gco-custom' });
    assert.deepEqual(operator.namespaces, ['team-a', 'team-b']);
    assert.deepEqual(operator.trustedNamespaces, ['platform']);
    assert.deepEqual(operator.defaultAuthor, { name: 'Platform Bot', email: 'bot@example.com' });
    assert.equal(operator.logLevel, 'debug');
    assert.equal(operator.metricsAddress, undefined);
    assert.equal(operator.leaderElect, true);
    assert.equal(operator.allowSecretExport, true);
    assert.equal(operator.concurrency, 8);
    const git = parseSidecarConfig(sidecar.args, {});
    assert.equal(git.diskBudgetBytes, 16 * 2 ** 30);
    assert.equal(git.logLevel, 'debug');
    assert.equal(git.maxBatch, 50);
    assert.equal(git.dataDir, sidecar.volumeMounts.find((m: Obj) => m.name === 'clones').mountPath);
    assert.ok(git.metricsAddress, 'the sidecar keeps the listener its liveness probe uses');
    assert.equal(operator.sidecarSocket, git.socketPath);
  });

  describe('applies to the real API server (server-side dry run, CRDs first)', () => {
    for (const [name, namespace, values] of [
      ['the default values', operatorNamespace, []],
      ['production values', operatorNamespace, ['replicas=2']],
      ['values in another namespace', 'gco-helm-dry-run', ['namespace.name=gco-helm-dry-run', 'logLevel=debug']],
    ] as const) {
      it(name, async () => {
        // A dry run creates nothing, so the namespace the objects go in must exist already.
        await plane.ensureNamespace(namespace);
        const crds = await helm(['show', 'crds', chart]);
        assert.equal(crds.code, 0, crds.stderr);
        assert.equal(docsOf(crds.stdout).filter((d) => d.kind === 'CustomResourceDefinition').length, 2);
        const dryRun = ['apply', '--server-side', '--dry-run=server', '--force-conflicts', '-f', '-'];
        const appliedCrds = await plane.kubectl(dryRun, { input: crds.stdout });
        assert.equal(appliedCrds.code, 0, appliedCrds.stderr);
        const rendered = await template([...values]);
        assert.equal(rendered.code, 0, rendered.stderr);
        const applied = await plane.kubectl(dryRun, { input: rendered.stdout });
        assert.equal(applied.code, 0, applied.stderr);
        assert.match(applied.stdout, /statefulset\.apps\/git-change-operator serverside-applied \(server dry run\)/);
      });
    }
  });

  it('refuses values that cannot work, naming the value and the reason', async () => {
    const refused: Array<[string[], RegExp]> = [
      [['replica=2'], /additional propert(y|ies) 'replica'/],
      [['replicas=-1'], /replicas.*minimum/s],
      [['replicas=2', 'leaderElection.enabled=false'], /leaderElection\.enabled=true/],
      [['logLevel=verbose'], /logLevel/],
      [['manager.defaultAuthor=nobody'], /defaultAuthor/],
      [['manager.watchNamespaces={Team_A}'], /watchNamespaces/],
      [['manager.image.tag='], /manager\/image\/tag/],
      [['clones.diskBudget=8GB'], /diskBudget/],
      // `--set` makes 1 a number; Kubernetes takes only strings there.
      [['manager.extraEnv[0].name=A', 'manager.extraEnv[0].value=1'], /extraEnv\/0\/value': got number, want string/],
      [['clones.size=lots'], /clones\/size/],
      [['opentelemetry.env.HTTP_PROXY=http://proxy'], /HTTP_PROXY/],
      [['manager.extraArgs={--log-level=debug}'], /manager\.extraArgs: --log-level is set by the chart/],
      [['sidecar.extraArgs={--data-dir=/data}'], /sidecar\.extraArgs: --data-dir is set by the chart/],
      [['namespace.name=kube-system'], /would own namespace "kube-system"/],
      // An empty name means the release's namespace: `default` here.
      [['namespace.name='], /would own namespace "default"/],
    ];
    for (const [values, reason] of refused) {
      const out = await template(values);
      assert.notEqual(out.code, 0, `${values} was accepted`);
      assert.match(out.stderr, reason, `${values}: ${out.stderr}`);
    }
    // The way out of the last refusal: the release's namespace, not owned by the chart.
    const inRelease = await render(['namespace.name=', 'namespace.create=false'], ['--namespace', 'ops']);
    assert.ok(!inRelease.some((d) => d.kind === 'Namespace'));
    assert.equal(inRelease.find((d) => d.kind === 'StatefulSet')?.metadata.namespace, 'ops');
  });

  it('refuses exactly the authors and disk budgets that the processes would refuse at start', async () => {
    const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8'));
    assert.equal(
      schema.properties.manager.properties.defaultAuthor.pattern,
      `^$|${authorPattern}`,
      "the chart's pattern for manager.defaultAuthor is the one the operator parses authors with (@gco/common/validation)",
    );
    // As strings (a number is refused by type, with its own message).
    const accepts = async (value: string) => (await template([], ['--set-string', value])).code === 0;
    const starts = (parse: () => unknown) => {
      try {
        parse();
        return true;
      } catch {
        return false;
      }
    };
    for (const author of [
      'Bot <bot@example.com>',
      'A B  <a@b>',
      'nobody',
      'Bot <bot>',
      'Bot bot@example.com',
      '<a@b>',
    ]) {
      assert.equal(
        await accepts(`manager.defaultAuthor=${author}`),
        starts(() => parseOperatorConfig([`--default-author=${author}`], {})),
        author,
      );
    }
    for (const size of ['8Gi', '512Mi', '1048576', '1.5G', '8GB', '8 Gi', '-1Gi', '8gi']) {
      assert.equal(
        await accepts(`clones.diskBudget=${size}`),
        starts(() => parseSidecarConfig([`--disk-budget=${size}`], {})),
        size,
      );
    }
  });

  describe('helm install on a fresh API server', () => {
    let fresh: ControlPlane;
    const namespace = operatorNamespace;
    before(async () => {
      // No CRDs: the chart installs them.
      fresh = await ControlPlane.start({ crdPaths: [] });
    });
    after(async () => {
      await fresh?.stop();
    });
    const get = async (args: string[]) => {
      const out = await fresh.kubectl(['get', ...args, '-o', 'json']);
      assert.equal(out.code, 0, out.stderr);
      return JSON.parse(out.stdout) as Obj;
    };

    it('installs into its own namespace with the image tags from values, upgrades, uninstalls keeping the namespace, and installs again', async () => {
      const kubeconfig = fresh.kubeconfigPath;
      // The documented command (README.md): the release record lives in the namespace the chart owns.
      const installed = await helm(
        [
          'install',
          release,
          chart,
          '--namespace',
          namespace,
          '--create-namespace',
          '--set',
          'manager.image.tag=dev',
          '--set',
          'sidecar.image.tag=dev',
        ],
        { kubeconfig },
      );
      assert.equal(installed.code, 0, installed.stderr);

      for (const crd of ['gitcommits.gco.galos.one', 'pullrequests.gco.galos.one']) {
        const got = await get(['crd', crd]);
        assert.ok(
          got.status.conditions.some((c: Obj) => c.type === 'Established' && c.status === 'True'),
          `${crd} established`,
        );
      }
      const ns = await get(['namespace', namespace]);
      assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
      assert.equal(ns.metadata.annotations['meta.helm.sh/release-name'], release, 'the chart owns the namespace');
      const sts = await get(['-n', namespace, 'statefulset', 'git-change-operator']);
      assert.deepEqual(
        sts.spec.template.spec.containers.map((c: Obj) => c.image),
        ['git-change-operator:dev', 'git-change-operator-git-sidecar:dev'],
      );
      assert.equal(sts.spec.replicas, 1);
      for (const kind of ['serviceaccount', 'service', 'role', 'rolebinding']) {
        const owned = await get(['-n', namespace, kind, '-l', `app.kubernetes.io/instance=${release}`]);
        assert.ok(owned.items.length > 0, kind);
      }
      const list = await helm(['list', '--namespace', namespace, '-o', 'json'], { kubeconfig });
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(
        (JSON.parse(list.stdout) as Obj[]).map((r) => [r.name, r.status]),
        [[release, 'deployed']],
      );

      // What a cluster's clusterrole-aggregation-controller does next: it writes the aggregated rules
      // into the reader role, and so owns them. An upgrade must not fight it for them.
      await aggregateClusterRoles(fresh);
      const upgraded = await helm(
        ['upgrade', release, chart, '--namespace', namespace, '--reuse-values', '--set', 'replicas=2'],
        { kubeconfig },
      );
      assert.equal(upgraded.code, 0, upgraded.stderr);
      const scaled = await get(['-n', namespace, 'statefulset', 'git-change-operator']);
      assert.equal(scaled.spec.replicas, 2);
      assert.equal(scaled.spec.template.spec.containers[0].image, 'git-change-operator:dev', 'values kept');

      const uninstalled = await helm(['uninstall', release, '--namespace', namespace], { kubeconfig });
      assert.equal(uninstalled.code, 0, uninstalled.stderr);
      for (const name of ['git-change-operator-manager', 'git-change-operator-reader'])
        assert.equal((await fresh.kubectl(['get', 'clusterrole', name])).code, 1, `${name} is deleted`);
      // Helm never deletes CRDs (they would take every GitCommit with them), and the chart keeps its
      // namespace for the same reason: the users' resources and Secrets in it stay.
      assert.ok((await get(['crd', 'gitcommits.gco.galos.one'])).metadata.name);
      const kept = await get(['namespace', namespace]);
      assert.equal(kept.metadata.deletionTimestamp, undefined, 'the namespace is kept');
      assert.equal(kept.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
      assert.equal((await fresh.kubectl(['get', 'statefulset', 'git-change-operator', '-n', namespace])).code, 1);

      // A later install adopts the kept namespace (it still carries this release's ownership).
      const again = await helm(['install', release, chart, '--namespace', namespace], { kubeconfig });
      assert.equal(again.code, 0, again.stderr);
      assert.ok((await get(['-n', namespace, 'statefulset', 'git-change-operator'])).metadata.name);
    });
  });
});
