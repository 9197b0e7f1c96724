/**
 * The strategies a resourceReference may name, each declared once: its name, what it writes, whether a
 * Secret may be exported with it, whether it takes `field`, and how it renders. The CRD's enum, its
 * descriptions and its CEL rules are generated from this list (api/v1/schema/strategy-rules.ts), and render()
 * dispatches through it, so that a new strategy is one entry here and nowhere else names it.
 */
import type { KubeObject } from '../runtime/resources.ts';
import { dump, fields, type RenderedFile, singleField } from './strategies.ts';

export interface StrategyDefinition {
  name: string;
  /** What it writes, for `kubectl explain` ("'<name>': " is put before it). */
  description: string;
  /** One file at output.path, or one file per key under output.path as a directory. */
  writes: 'file' | 'directory';
  /**
   * It writes only the one value a user names, so a Secret may use it without --allow-secret-export;
   * the others would put every key of a Secret into git.
   */
  secretSafe: boolean;
  /** It needs `field` (the key or dotted path it extracts); the others refuse one. */
  takesField: boolean;
  render(obj: KubeObject, opts: { field: string | undefined; asJson: boolean }): RenderedFile[];
}

export const strategies = [
  {
    name: 'dump',
    description: "the whole object as YAML (JSON for '.json' paths) without server-populated fields.",
    writes: 'file',
    secretSafe: false,
    takesField: false,
    render: (obj, { asJson }) => dump(obj, asJson),
  },
  {
    name: 'fields',
    description: 'one file per key of .data/.binaryData (or of .spec for other kinds) under the output directory.',
    writes: 'directory',
    secretSafe: false,
    takesField: false,
    render: (obj) => fields(obj),
  },
  {
    name: 'single-field',
    description: "one value, named by 'field', into one file.",
    writes: 'file',
    secretSafe: true,
    takesField: true,
    render: (obj, { field, asJson }) => singleField(obj, field ?? '', asJson),
  },
] as const satisfies readonly StrategyDefinition[];

export type StrategyName = (typeof strategies)[number]['name'];

export const strategyNames: readonly StrategyName[] = strategies.map((s) => s.name);

export function strategyNamed(name: string): StrategyDefinition | undefined {
  return strategies.find((s) => s.name === name);
}

/** The names of the strategies for which `test` holds, in registry order. */
export function strategiesWhere(test: (s: StrategyDefinition) => boolean): StrategyName[] {
  return strategies.filter(test).map((s) => s.name);
}
