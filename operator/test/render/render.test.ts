import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { render } from '../../src/render/render.ts';
import { parseFieldPath, RenderError } from '../../src/render/strategies.ts';
import { expandTemplate, strftime, TemplateError } from '../../src/render/template.ts';
import type { KubeObject } from '../../src/runtime/resources.ts';

const instant = new Date('2026-11-24T16:14:58Z');
const b64 = (s: string) => Buffer.from(s).toString('base64');

const configMap: KubeObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {
    name: 'app',
    namespace: 'prod',
    uid: 'u-1',
    resourceVersion: '42',
    generation: 1,
    creationTimestamp: '2026-01-01T00:00:00Z',
    managedFields: [{ manager: 'kubectl' }],
    labels: { app: 'web' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', team: 'platform' },
  },
  data: { 'app.properties': 'a=1\n', 'tls.crt': 'CERT' },
  binaryData: { 'logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]).toString('base64') },
};

const secret: KubeObject = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 's', namespace: 'prod' },
  data: { 'tls.crt': b64('CERT-PEM\n'), 'tls.key': b64('KEY') },
};

const deployment: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'prod', labels: { app: 'web', 'app.kubernetes.io/name': 'web' } },
  spec: { replicas: 3, template: { spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } } },
  status: { readyReplicas: 3 },
};

function one(ref: any, obj: KubeObject | undefined, extra: Partial<Parameters<typeof render>[0]> = {}) {
  return render({
    resourceReferences: [{ apiVersion: obj?.apiVersion ?? 'v1', kind: obj?.kind ?? 'ConfigMap', name: 'x', ...ref }],
    objects: [obj],
    namespaces: ['prod'],
    instant,
    allowSecretExport: false,
    ...extra,
  });
}

describe('rendering', () => {
  describe('templates', () => {
    it('prints like GNU date in the C locale, in UTC', () => {
      assert.equal(expandTemplate('$(date)', instant), 'Tue Nov 24 16:14:58 UTC 2026');
      assert.equal(expandTemplate('$(date -u)', instant), 'Tue Nov 24 16:14:58 UTC 2026');
      assert.equal(expandTemplate('$(date +%Y%m%d)', instant), '20261124');
      assert.equal(expandTemplate('$(date -u +%Y-%m-%dT%H:%M:%SZ)', instant), '2026-11-24T16:14:58Z');
      assert.equal(expandTemplate("$(date '+%F %T')", instant), '2026-11-24 16:14:58');
      assert.equal(
        strftime('%y %j %a %A %b %B %e %s %D %R %Z %z %%', instant),
        '26 328 Tue Tuesday Nov November 24 1795536898 11/24/26 16:14 UTC +0000 %',
      );
      assert.equal(strftime('%e', new Date('2026-03-05T00:00:00Z')), ' 5');
      assert.equal(strftime('%V %G %u %w %I %p', new Date('2027-01-01T13:00:00Z')), '53 2026 5 5 01 PM');
    });

    it('keeps text, and writes $( for $$(', () => {
      assert.equal(expandTemplate('cost: $5 $$(date) x', instant), 'cost: $5 $(date) x');
      assert.equal(expandTemplate('reports/$(date +%Y)/$(date +%m).log', instant), 'reports/2026/11.log');
    });

    it('refuses anything but date, and unknown conversions, without running anything', () => {
      for (const bad of [
        '$(whoami)',
        '$(date; rm -rf /)',
        '$(date +%Q)',
        '$(date',
        '$(date %Y)',
        '$(ls -la)',
        '$(date +%)',
      ]) {
        assert.throws(() => expandTemplate(bad, instant), TemplateError, bad);
      }
    });
  });

  describe('strategies', () => {
    it('dump: YAML without server-populated fields, byte-identical for the same object', () => {
      const a = one({ strategy: 'dump', output: { path: 'cm.yaml' } }, configMap);
      const b = one({ strategy: 'dump', output: { path: 'cm.yaml' } }, structuredClone(configMap));
      assert.deepEqual(a.operations[0]?.content, b.operations[0]?.content);
      const doc = parse(a.operations[0]?.content.toString() ?? '') as any;
      assert.equal(doc.kind, 'ConfigMap');
      for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields'])
        assert.ok(!(k in doc.metadata), k);
      assert.deepEqual(doc.metadata.annotations, { team: 'platform' });
      const noStatus = parse(
        one({ strategy: 'dump', output: { path: 'd.yaml' } }, deployment).operations[0]?.content.toString() ?? '',
      ) as any;
      assert.ok(!('status' in noStatus));
    });

    it('dump: JSON for .json paths', () => {
      const out = one({ strategy: 'dump', output: { path: 'web.json' } }, deployment);
      const doc = JSON.parse(out.operations[0]?.content.toString() ?? '');
      assert.equal(doc.spec.replicas, 3);
    });

    it('fields: one file per data key, binaryData raw, trailing slash optional', () => {
      for (const path of ['out/', 'out']) {
        const out = one({ strategy: 'fields', output: { path } }, configMap);
        assert.deepEqual(
          out.operations.map((o) => o.path),
          ['out/app.properties', 'out/tls.crt', 'out/logo.png'],
        );
        assert.deepEqual([...(out.operations[2]?.content ?? [])], [0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);
      }
    });

    it('fields: top-level keys of .spec for other kinds, non-strings as YAML', () => {
      const out = one({ strategy: 'fields', output: { path: 'web' } }, deployment);
      assert.deepEqual(
        out.operations.map((o) => o.path),
        ['web/replicas', 'web/template'],
      );
      assert.equal(out.operations[0]?.content.toString(), '3');
      assert.match(out.operations[1]?.content.toString() ?? '', /image: nginx:1.27/);
    });

    it('single-field: exact keys first, then dotted paths, quoted segments and array indexes', () => {
      const field = (obj: KubeObject, f: string, path = 'f.txt') =>
        one({ strategy: 'single-field', field: f, output: { path } }, obj).operations[0]?.content.toString();
      assert.equal(field(configMap, 'tls.crt'), 'CERT');
      assert.equal(field(secret, 'tls.crt'), 'CERT-PEM\n', 'Secret values are decoded');
      assert.equal(field(deployment, 'spec.replicas'), '3');
      assert.equal(field(deployment, 'metadata.labels.app'), 'web');
      assert.equal(field(deployment, 'metadata.labels["app.kubernetes.io/name"]'), 'web');
      assert.equal(field(deployment, 'spec.template.spec.containers.0.image'), 'nginx:1.27');
      assert.match(field(deployment, 'spec.template.spec.containers') ?? '', /^- name: c\n {2}image: nginx:1.27\n$/);
      assert.equal(JSON.parse(field(deployment, 'metadata.labels', 'labels.json') ?? '').app, 'web');
      assert.deepEqual(parseFieldPath("a['b.c'][0].d"), ['a', 'b.c', '0', 'd']);
    });

    it('single-field: a missing field fails, or is skipped when optional', () => {
      assert.throws(
        () => one({ strategy: 'single-field', field: 'spec.nope', output: { path: 'f' } }, deployment),
        (e: unknown) => e instanceof RenderError && e.reason === 'FieldNotFound',
      );
      const out = one(
        { strategy: 'single-field', field: 'spec.nope', optional: true, output: { path: 'f' } },
        deployment,
      );
      assert.equal(out.operations.length, 0);
      assert.equal(out.skipped[0]?.reason, 'FieldNotFound');
    });

    it('refuses dump and fields of a Secret unless allowed', () => {
      for (const strategy of ['dump', 'fields']) {
        assert.throws(
          () => one({ strategy, output: { path: 's/' } }, secret),
          (e: unknown) =>
            e instanceof RenderError && e.reason === 'SecretExportForbidden' && /single-field/.test(e.message),
        );
      }
      const allowed = one({ strategy: 'fields', output: { path: 's/' } }, secret, { allowSecretExport: true });
      assert.equal(allowed.operations.find((o) => o.path === 's/tls.key')?.content.toString(), 'KEY');
    });

    it('skips a missing optional object and lists it', () => {
      const out = one({ strategy: 'dump', optional: true, output: { path: 'x.yaml' } }, undefined);
      assert.deepEqual(out.operations, []);
      assert.deepEqual(out.skipped, [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          name: 'x',
          namespace: 'prod',
          reason: 'ResourceNotFound',
          message: 'ConfigMap prod/x does not exist',
        },
      ]);
    });
  });

  describe('write modes and paths', () => {
    it('appends in spec order, files first, YAML dumps as documents', () => {
      const out = render({
        writeMode: 'append',
        files: [{ path: 'log/$(date +%Y%m%d).log', content: 'at $(date +%H:%M)\n' }],
        resourceReferences: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            name: 'app',
            strategy: 'dump',
            output: { path: 'log/$(date +%Y%m%d).log' },
          },
        ],
        objects: [configMap],
        namespaces: ['prod'],
        instant,
        allowSecretExport: false,
      });
      assert.deepEqual(
        out.operations.map((o) => [o.path, o.mode, o.yamlDocument]),
        [
          ['log/20261124.log', 'append', false],
          ['log/20261124.log', 'append', true],
        ],
      );
      assert.equal(out.operations[0]?.content.toString(), 'at 16:14\n');
    });

    it('reports two writers of one path in overwrite mode as PathConflict', () => {
      assert.throws(
        () =>
          render({
            files: [
              { path: 'a.txt', content: '1' },
              { path: 'a.txt', content: '2', writeMode: 'append' },
            ],
            objects: [],
            namespaces: [],
            instant,
            allowSecretExport: false,
          }),
        (e: unknown) => e instanceof RenderError && e.reason === 'PathConflict',
      );
    });

    it('checks paths again after templating', () => {
      assert.throws(
        () =>
          render({
            files: [{ path: '$(date +..)/x', content: '' }],
            objects: [],
            namespaces: [],
            instant,
            allowSecretExport: false,
          }),
        (e: unknown) => e instanceof RenderError && e.reason === 'InvalidPath',
      );
      assert.throws(
        () =>
          render({
            files: [{ path: 'a/$(bad)', content: '' }],
            objects: [],
            namespaces: [],
            instant,
            allowSecretExport: false,
          }),
        (e: unknown) =>
          e instanceof RenderError && e.reason === 'TemplateError' && /spec.files\[0\].path/.test(e.message),
      );
    });
  });
});
