/**
 * Validation rules shared by the schemas: regular expressions and CEL (`x-kubernetes-validations`) rules
 * for what an OpenAPI schema alone cannot say. The API server evaluates them, so a user gets the error
 * from `kubectl apply`, naming the field, before the operator ever sees the object.
 *
 * CEL `matches()` uses RE2 syntax (no look-ahead), hence several small rules rather than one clever one.
 */

export interface CelRule {
  rule: string;
  message: string;
  /** Points the error at a child field (JSONPath relative to the node carrying the rule). */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';
}

/** Upper bounds keep CEL cost estimates finite and objects well under etcd's 1.5 MiB limit. */
export const limits = {
  path: 4096,
  url: 2048,
  branch: 255,
  author: 512,
  message: 65_536,
  fileContent: 1_048_576,
  files: 256,
  references: 256,
  field: 1024,
  schedule: 128,
  kubernetesName: 253,
  labels: 64,
  label: 128,
  historyEntries: 10,
} as const;

export const dns1123Subdomain = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** Rules every repository-relative path obeys (files[].path, resourceReferences[].output.path). */
export function pathRules(opts: { allowTrailingSlash: boolean }): CelRule[] {
  const rules: CelRule[] = [
    { rule: "!self.startsWith('/')", message: "must be a relative path: remove the leading '/'" },
    {
      rule: "!self.matches('(^|/)[.][.]?(/|$)')",
      message: "must not contain '.' or '..' segments: write the normalized path inside the repository",
    },
    {
      rule: "!self.matches('(^|/)[.]git(/|$)')",
      message: "must not point into '.git': files inside the git directory cannot be written",
    },
    { rule: "!self.contains('//')", message: "must not contain empty segments ('//')" },
    { rule: "!self.contains('\\x00')", message: 'must not contain a NUL character' },
  ];
  if (!opts.allowTrailingSlash) {
    rules.push({ rule: "!self.endsWith('/')", message: "names a file, so it must not end with '/'" });
  }
  return rules;
}

export const repositoryUrlRules: CelRule[] = [
  {
    rule: "self.matches('^(https?|ssh)://[^/?#]+') || self.matches('^file:///') || self.matches('^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:[^/].*$')",
    message:
      "must be a git URL: 'https://host/path', 'http://host/path', 'ssh://user@host[:port]/path' or scp-like 'user@host:path'",
  },
  {
    rule: "!self.matches('^[a-z]+://[^/@]*:[^/@]*@')",
    message: 'must not embed credentials: put them in the Secret named by spec.auth.secretName',
  },
];

/**
 * Short branch names, as `git check-ref-format --branch` takes them, minus names that shadow other refs
 * (the same rules as branchNameProblem in git-sidecar/src/jobs/validation.ts, which the operator and the
 * sidecar apply again): a tenant's `refs/heads/main` would become `refs/heads/refs/heads/main` on the
 * remote and make every other tenant's push to main ambiguous.
 */
export const branchRules: CelRule[] = [
  {
    rule: "!self.matches('(^[-/.])|([/.]$)|([.][.])|([[:space:][:cntrl:]~^:?*\\\\[\\\\\\\\])|([.]lock(/|$))|(//)|(/[.])|(@[{])|(^@$)')",
    message:
      "must be a valid git branch name: no spaces or control characters, '..', '~', '^', ':', '?', '*', '[', '\\', '@{', no leading '-', '/' or '.', no part starting with '.', no trailing '/' or '.', no part ending in '.lock'",
  },
  {
    rule: "!self.matches('^(refs|heads|tags|remotes)(/|$)')",
    message:
      "must be a short branch name such as 'main': names starting with 'refs/', 'heads/', 'tags/' or 'remotes/' name or shadow other refs",
  },
  {
    rule: "!self.matches('(^|/)HEAD$') && !self.matches('^[A-Z_]*_HEAD$')",
    message: "must not be 'HEAD' or a pseudo-ref such as 'FETCH_HEAD'",
  },
];

export const authorRules: CelRule[] = [
  {
    rule: "self.matches('^[^<>]*[^<>[:space:]][^<>]* <[^<>[:space:]]+@[^<>[:space:]]+>$')",
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
export const everyPattern = '^@every ([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$';

/**
 * The shortest `@every` interval: each tick is an execution, a commit and a push; below a few seconds a
 * schedule is a loop. The operator (controllers/execution/schedule.ts) holds schedules to it too.
 */
export const minimumEvery = { seconds: 5, text: '5s' } as const;

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
