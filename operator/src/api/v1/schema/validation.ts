/**
 * Validation rules shared by the schemas: regular expressions and CEL (`x-kubernetes-validations`) rules
 * for what an OpenAPI schema alone cannot say. The API server evaluates them, so a user gets the error
 * from `kubectl apply`, naming the field, before the operator ever sees the object.
 *
 * CEL `matches()` uses RE2 syntax (no look-ahead), hence several small rules rather than one clever one.
 * Rules the processes apply too are generated from their one definition in @gco/common.
 */
import { durationPattern } from '@gco/common/duration';
import {
  authorPattern,
  branchNameRules,
  pathRules as commonPathRules,
  embeddedCredentialsPattern,
  filePathRules,
  fileUrlPattern,
  type Refusal,
  schemeUrlPattern,
  scpLikeUrlPattern,
} from '@gco/common/validation';
import { minimumEvery } from '../limits.ts';

export interface CelRule {
  rule: string;
  message: string;
  /** Points the error at a child field (JSONPath relative to the node carrying the rule). */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';
}

export const dns1123Subdomain = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/**
 * A CEL string literal whose value is `text`: a pattern reaches RE2 exactly as JavaScript reads it, a
 * literal character by character.
 */
function celString(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
  const escaped = text.replace(/[\\'\x00-\x1f\x7f]/g, (c) =>
    c === '\\' || c === "'" ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return `'${escaped}'`;
}

/**
 * The text a pattern matches when it is a plain literal, optionally anchored at one end, else undefined:
 * such a rule becomes startsWith/endsWith/contains, which CEL's cost estimate prices far below a regex.
 */
function literalOf(pattern: string): { text: string; at: 'start' | 'end' | 'anywhere' } | undefined {
  const at = pattern.startsWith('^') ? 'start' : pattern.endsWith('$') && !pattern.endsWith('\\$') ? 'end' : 'anywhere';
  const body = at === 'start' ? pattern.slice(1) : at === 'end' ? pattern.slice(0, -1) : pattern;
  let text = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\') {
      const next = body[i + 1] ?? '';
      const hex = /^x([0-9a-fA-F]{2})/.exec(body.slice(i + 1));
      if (hex) {
        text += String.fromCharCode(Number.parseInt(hex[1] as string, 16));
        i += 3;
      } else if (/[\\^$.|?*+()[\]{}/-]/.test(next)) {
        text += next;
        i += 1;
      } else return undefined;
    } else if ('^$.|?*+()[]{}'.includes(c)) return undefined;
    else text += c;
  }
  return text === '' ? undefined : { text, at };
}

/** CEL rules refusing what `rules` refuse, one rule (and message) each, so that the API server names every problem. */
function celRules(rules: readonly Refusal[], message: (problem: string) => string = (p) => p): CelRule[] {
  return rules.map(({ pattern, problem }) => {
    const literal = literalOf(pattern);
    const test = !literal
      ? `self.matches(${celString(pattern)})`
      : `self.${{ start: 'startsWith', end: 'endsWith', anywhere: 'contains' }[literal.at]}(${celString(literal.text)})`;
    return { rule: `!${test}`, message: message(problem) };
  });
}

/**
 * Rules every repository-relative path obeys (files[].path, resourceReferences[].output.path): the
 * sidecar's own (@gco/common/validation). A directory, unlike a file, may end with '/'.
 */
export function pathRules(opts: { allowTrailingSlash: boolean }): CelRule[] {
  return celRules(opts.allowTrailingSlash ? commonPathRules : filePathRules);
}

export const repositoryUrlRules: CelRule[] = [
  {
    rule: [schemeUrlPattern, fileUrlPattern, scpLikeUrlPattern]
      .map((p) => `self.matches(${celString(p)})`)
      .join(' || '),
    message:
      "must be a git URL: 'https://host/path', 'http://host/path', 'ssh://user@host[:port]/path' or scp-like 'user@host:path'",
  },
  {
    rule: `!self.matches(${celString(embeddedCredentialsPattern)})`,
    message: 'must not embed credentials: put them in the Secret named by spec.auth.secretName',
  },
];

/**
 * Short branch names, as `git check-ref-format --branch` takes them, minus names that shadow other refs:
 * a tenant's `refs/heads/main` would become `refs/heads/refs/heads/main` on the remote and make every
 * other tenant's push to main ambiguous. The rules of branchNameProblem (@gco/common/validation), which
 * the operator and the sidecar apply again.
 */
export const branchRules: CelRule[] = celRules(
  branchNameRules,
  (problem) => `is not a valid git branch name: it ${problem}`,
);

export const authorRules: CelRule[] = [
  {
    rule: `self.matches(${celString(authorPattern)})`,
    message: "must be 'Name <email>', for example 'Production Cluster <prod-k8s@company.com>'",
  },
];

// One 5-field cron field: '*' or a value or range, with an optional step, comma-separated.
function cronField(value: string): string {
  const item = `([*]|(${value})(-(${value}))?)(/[0-9]+)?`;
  return `${item}(,${item})*`;
}
const month = '0?[1-9]|1[0-2]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC';
const weekday = '[0-7]|SUN|MON|TUE|WED|THU|FRI|SAT';
export const cronPattern =
  `(?i)^[[:space:]]*${cronField('[0-5]?[0-9]')}[[:space:]]+${cronField('[01]?[0-9]|2[0-3]')}` +
  `[[:space:]]+${cronField('0?[1-9]|[12][0-9]|3[01]')}[[:space:]]+${cronField(month)}` +
  `[[:space:]]+${cronField(weekday)}[[:space:]]*$`;
export const cronMacroPattern = '^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$';
export const everyPattern = `^@every ${durationPattern}$`;

export const scheduleRules: CelRule[] = [
  {
    rule: `self.matches('${cronPattern}') || self.matches('${cronMacroPattern}') || self.matches('${everyPattern}')`,
    message:
      "must be a 5-field cron expression in UTC ('0 */6 * * *', '0 9 * * MON'), a macro (@hourly, @daily, @weekly, @monthly, @yearly) or '@every <duration>' ('@every 30m')",
  },
  {
    // Only once the format rule holds, so that duration() never sees text it cannot parse.
    rule: `!self.matches('${everyPattern}') || duration(self.substring(7)) >= duration('${minimumEvery.text}')`,
    message: `'@every' must be at least ${minimumEvery.text}: each tick is a commit and a push`,
  },
];
