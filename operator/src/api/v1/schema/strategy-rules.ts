/**
 * What the CRD says about strategies, generated from the registry (render/registry.ts): the enum's
 * description, the descriptions that name strategies, and the CEL rules tying `field` and a trailing '/'
 * to what each strategy is. A strategy added to the registry is admitted, explained and checked without
 * an edit here.
 */
import { type StrategyDefinition, strategies } from '../../../render/registry.ts';
import { quotedList } from '../../../sentence.ts';
import type { CelRule } from './validation.ts';

type Declaration = Omit<StrategyDefinition, 'render'>;

/** CEL: the reference's strategy is one of `names` ('false' for none). */
function strategyIn(names: readonly string[]): string {
  if (names.length === 0) return 'false';
  if (names.length === 1) return `self.strategy == '${names[0]}'`;
  return `self.strategy in [${names.map((n) => `'${n}'`).join(', ')}]`;
}

/** CEL: the reference's strategy is none of `names` ('true' for none). */
function strategyNotIn(names: readonly string[]): string {
  if (names.length === 0) return 'true';
  if (names.length === 1) return `self.strategy != '${names[0]}'`;
  return `!(${strategyIn(names)})`;
}

/** The rule `guard || test`, without a guard that is always false; none when the guard always holds. */
function unless(guard: string, test: string, rest: Omit<CelRule, 'rule'>): CelRule[] {
  if (guard === 'true') return [];
  return [{ rule: guard === 'false' ? test : `${guard} || ${test}`, ...rest }];
}

export interface StrategySchemaText {
  /** The CEL rules on a resourceReference. */
  referenceRules: CelRule[];
  /** resourceReferences[].strategy, as `kubectl explain` shows it. */
  strategyDescription: string;
  /** The start of resourceReferences[].field's description: which strategies use it. */
  fieldUsedBy: string;
  /** What resourceReferences[].output.path names, by strategy. */
  outputPathTargets: string;
}

export function strategySchemaText(list: readonly Declaration[]): StrategySchemaText {
  const names = (test: (s: Declaration) => boolean) => list.filter(test).map((s) => s.name);
  const takingField = names((s) => s.takesField);
  const writingFiles = names((s) => s.writes === 'file');
  const writingDirectories = names((s) => s.writes === 'directory');
  const notForSecrets = names((s) => !s.secretSafe);
  return {
    referenceRules: [
      ...unless(strategyNotIn(takingField), 'has(self.field)', {
        message: `is required when strategy is ${quotedList(takingField, 'or')}: name the key or dotted path to extract`,
        fieldPath: '.field',
        reason: 'FieldValueRequired',
      }),
      ...unless(strategyIn(takingField), '!has(self.field)', {
        message:
          takingField.length === 0
            ? 'is not used by any strategy: remove it'
            : `is only used with strategy ${quotedList(takingField, 'or')}: remove it, or set strategy: ${takingField.join(' or ')}`,
        fieldPath: '.field',
        reason: 'FieldValueForbidden',
      }),
      ...unless(strategyIn(writingDirectories), "!self.output.path.endsWith('/')", {
        message: `names a file for strategy ${quotedList(writingFiles)}, so it must not end with '/'`,
        fieldPath: '.output.path',
      }),
    ],
    strategyDescription:
      `How the object becomes files. ${list.map((s) => `'${s.name}': ${s.description}`).join(' ')}` +
      (notForSecrets.length === 0
        ? ''
        : ` ${quotedList(notForSecrets)} of a Secret are refused unless the operator allows Secret export.`),
    fieldUsedBy: `For ${quotedList(takingField, 'or')} only`,
    outputPathTargets: [
      writingFiles.length > 0 ? `a file for ${quotedList(writingFiles)}` : undefined,
      writingDirectories.length > 0
        ? `a directory for ${quotedList(writingDirectories)} (trailing '/' optional)`
        : undefined,
    ]
      .filter((part) => part !== undefined)
      .join(', '),
  };
}

/** The CRD's text for the registry's strategies. */
export const strategyText = strategySchemaText(strategies);
