import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ControlPlane, sharedControlPlane, tempDir } from '@gco/testenv';
import { stringify } from 'yaml';
import { customResourceDefinition } from '../../src/api/crd.ts';
import { strategySchemaText } from '../../src/api/v1/schema/strategy-rules.ts';
import { kinds } from '../../src/api/v1/types.ts';
import { type StrategyDefinition, strategies, strategyNames } from '../../src/render/registry.ts';
import { render } from '../../src/render/render.ts';

type Declaration = Omit<StrategyDefinition, 'render'>;

const group = 'strategies.test.gco.galos.one';
const namespace = 'strategy-rules';

/** The registry as it is, and as it might grow: a directory strategy that takes a field. */
const grown: Declaration[] = [
  ...strategies,
  {
    name: 'keys',
    description: 'the named keys, one file each.',
    writes: 'directory',
    secretSafe: true,
    takesField: true,
  },
];
/** A registry where no strategy takes a field and none writes a directory. */
const fieldless: Declaration[] = [
  { name: 'dump', description: 'the object.', writes: 'file', secretSafe: false, takesField: false },
  { name: 'copy', description: 'the object again.', writes: 'file', secretSafe: false, takesField: false },
];

/** A CRD whose spec is one resource reference checked by the rules generated for `list`. */
function probeCrd(kind: string, list: readonly Declaration[]) {
  const plural = `${kind.toLowerCase()}s`;
  const text = strategySchemaText(list);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  required: ['strategy', 'output'],
                  properties: {
                    strategy: { type: 'string', enum: list.map((s) => s.name), description: text.strategyDescription },
                    field: { type: 'string', maxLength: 100 },
                    output: {
                      type: 'object',
                      required: ['path'],
                      properties: { path: { type: 'string', maxLength: 100 } },
                    },
                  },
                  'x-kubernetes-validations': text.referenceRules,
                },
              },
            },
          },
        },
      ],
    },
  };
}

/** The API server's answer to a server-side dry-run create: undefined when admitted, else its message. */
async function admission(
  plane: ControlPlane,
  kind: string,
  spec: Record<string, unknown>,
): Promise<string | undefined> {
  const plural = `${kind.toLowerCase()}s`;
  const res = await plane.request('POST', `/apis/${group}/v1/namespaces/${namespace}/${plural}?dryRun=All`, {
    body: JSON.stringify({ apiVersion: `${group}/v1`, kind, metadata: { name: 'probe' }, spec }),
    contentType: 'application/json',
  });
  if (res.status < 300) return undefined;
  assert.equal(res.status, 422, res.body);
  return (JSON.parse(res.body) as { message: string }).message;
}

describe('strategy registry', () => {
  it('gives the CRDs their strategy enum, description and rules, and render() every strategy', () => {
    for (const def of kinds) {
      const crd = customResourceDefinition(def) as any;
      const reference = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.resourceReferences.items;
      assert.deepEqual(reference.properties.strategy.enum, strategyNames, def.kind);
      for (const name of strategyNames)
        assert.match(reference.properties.strategy.description, new RegExp(`'${name}'`));
      assert.deepEqual(reference['x-kubernetes-validations'], strategySchemaText(strategies).referenceRules);
    }
    const configMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm', namespace: 'a' },
      data: { k: 'v' },
    };
    for (const s of strategies) {
      const { operations } = render({
        resourceReferences: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            name: 'cm',
            strategy: s.name,
            ...(s.takesField ? { field: 'k' } : {}),
            output: { path: s.writes === 'directory' ? 'out/' : 'out.yaml' },
          },
        ],
        objects: [configMap],
        namespaces: ['a'],
        instant: new Date(0),
        allowSecretExport: false,
      });
      assert.ok(operations.length > 0, s.name);
      assert.ok(
        operations.every((op) => (s.writes === 'directory' ? op.path.startsWith('out/') : op.path === 'out.yaml')),
        s.name,
      );
    }
  });

  it('names the strategies in messages as a sentence lists them', () => {
    const text = strategySchemaText(grown);
    assert.deepEqual(
      text.referenceRules.map((r) => r.rule),
      [
        "!(self.strategy in ['single-field', 'keys']) || has(self.field)",
        "self.strategy in ['single-field', 'keys'] || !has(self.field)",
        "self.strategy in ['fields', 'keys'] || !self.output.path.endsWith('/')",
      ],
    );
    assert.match(text.referenceRules[0]?.message ?? '', /^is required when strategy is 'single-field' or 'keys':/);
    assert.equal(
      text.outputPathTargets,
      "a file for 'dump' and 'single-field', a directory for 'fields' and 'keys' (trailing '/' optional)",
    );
    assert.match(text.strategyDescription, / 'dump' and 'fields' of a Secret are refused unless/);
    assert.deepEqual(
      strategySchemaText(fieldless).referenceRules.map((r) => r.rule),
      ['!has(self.field)', "!self.output.path.endsWith('/')"],
    );
  });

  describe('rules generated for other registries, on the real API server', () => {
    let plane: ControlPlane;

    before(async function () {
      this.timeout(120_000);
      plane = await sharedControlPlane();
      await plane.ensureNamespace(namespace);
      const dir = await tempDir();
      const file = join(dir, 'probes.yaml');
      await writeFile(
        file,
        [probeCrd('GrownProbe', grown), probeCrd('FieldlessProbe', fieldless)].map((d) => stringify(d)).join('---\n'),
      );
      await plane.installCrds([file]);
    });

    it('a registry with a second strategy that takes a field and writes a directory', async () => {
      const cases: Array<[Record<string, unknown>, RegExp | undefined]> = [
        [{ strategy: 'keys', field: 'a', output: { path: 'dir/' } }, undefined],
        [{ strategy: 'single-field', field: 'a', output: { path: 'f.txt' } }, undefined],
        [{ strategy: 'fields', output: { path: 'dir/' } }, undefined],
        [{ strategy: 'dump', output: { path: 'f.yaml' } }, undefined],
        [
          { strategy: 'keys', output: { path: 'dir/' } },
          /spec\.field: Required value: is required when strategy is 'single-field' or 'keys'/,
        ],
        [
          { strategy: 'dump', field: 'a', output: { path: 'f.yaml' } },
          /spec\.field: Forbidden: is only used with strategy 'single-field' or 'keys'/,
        ],
        [
          { strategy: 'single-field', field: 'a', output: { path: 'dir/' } },
          /spec\.output\.path: Invalid value: .*names a file for strategy 'dump' and 'single-field'/,
        ],
        [{ strategy: 'sideways', output: { path: 'f' } }, /Unsupported value: "sideways"/],
      ];
      for (const [spec, refused] of cases) {
        const message = await admission(plane, 'GrownProbe', spec);
        if (refused === undefined) assert.equal(message, undefined, JSON.stringify(spec));
        else assert.match(message ?? 'admitted', refused, JSON.stringify(spec));
      }
    });

    it('a registry where no strategy takes a field or writes a directory', async () => {
      assert.equal(await admission(plane, 'FieldlessProbe', { strategy: 'copy', output: { path: 'f' } }), undefined);
      assert.match(
        (await admission(plane, 'FieldlessProbe', { strategy: 'copy', field: 'a', output: { path: 'f' } })) ??
          'admitted',
        /spec\.field: Forbidden: is not used by any strategy/,
      );
      assert.match(
        (await admission(plane, 'FieldlessProbe', { strategy: 'dump', output: { path: 'd/' } })) ?? 'admitted',
        /spec\.output\.path: Invalid value: .*names a file for strategy 'dump' and 'copy'/,
      );
    });
  });
});
