/**
 * gco.galos.one/v1: GitCommit and PullRequest, written once.
 *
 * These TypeBox schemas are the single source of truth: the static types below are derived from them,
 * and `npm run generate` turns them into the CRD YAML of manifests/crds/ and charts/git-change-operator/crds/
 * (as controller-gen does for Kubebuilder). Descriptions are what `kubectl explain` shows, so they are
 * written for users.
 */
import Type, { type Static, type TSchema } from 'typebox';
import {
  authorRules,
  branchRules,
  type CelRule,
  dns1123Subdomain,
  limits,
  pathRules,
  repositoryUrlRules,
  scheduleRules,
} from './validation.ts';

export const group = 'gco.galos.one';
export const version = 'v1';
export const apiVersion = `${group}/${version}`;

/** Annotations users set on a GitCommit or PullRequest. */
export const annotations = {
  reconcileRequestedAt: 'gco.galos.one/reconcile-requested-at',
  retryPolicy: 'gco.galos.one/retry-policy',
  maxRetries: 'gco.galos.one/max-retries',
} as const;
export const retryPolicies = ['exponential-backoff', 'fixed', 'none'] as const;

function validations(rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** A string enum with `type: string`, which structural CRD schemas require (TypeBox's Enum omits it). */
function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown>) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

function KubernetesName(description: string) {
  return Type.String({ description, minLength: 1, maxLength: limits.kubernetesName, pattern: dns1123Subdomain });
}

const Time = (description: string) => Type.String({ description, format: 'date-time' });

export const writeModes = ['overwrite', 'append'] as const;
export type WriteMode = (typeof writeModes)[number];
const WriteModeField = (description: string) => StringEnum(writeModes, { description });

export const strategies = ['dump', 'fields', 'single-field'] as const;
export type Strategy = (typeof strategies)[number];

// ---- spec ---------------------------------------------------------------------------------------

const repositoryUrl = Type.String({
  description:
    "Git repository URL: 'https://host/path', 'http://host/path', 'ssh://user@host[:port]/path' or scp-like 'user@host:path'. " +
    "'file://' URLs are accepted only when the operator runs with --allow-file-urls (tests and development). " +
    'Credentials never go in the URL: use spec.auth.secretName.',
  minLength: 1,
  maxLength: limits.url,
  ...validations(repositoryUrlRules),
});

const GitCommitRepository = Type.Object(
  {
    url: repositoryUrl,
    branch: Type.Optional(
      Type.String({
        description:
          "Branch to commit to. Default: the remote's default branch (its HEAD). A branch that does not exist " +
          "yet is created from the default branch's tip, or as the first commit of an empty repository.",
        minLength: 1,
        maxLength: limits.branch,
        ...validations(branchRules),
      }),
    ),
  },
  { description: 'The git repository to write to.' },
);

const PullRequestRepository = Type.Object(
  {
    url: repositoryUrl,
    baseBranch: Type.Optional(
      Type.String({
        description: "Base branch of the pull request. Default: the remote's default branch (its HEAD).",
        minLength: 1,
        maxLength: limits.branch,
        ...validations(branchRules),
      }),
    ),
  },
  { description: 'The git repository to write to.' },
);

const Auth = Type.Object(
  {
    secretName: Type.Optional(
      KubernetesName(
        'Secret in this resource\'s namespace holding the credentials. HTTPS: key "token" (sent as the password, ' +
          'with username from key "username", default "x-access-token"), or "username" and "password"; optional "ca.crt" ' +
          'for a private CA. SSH: "ssh-privatekey" and "known_hosts" (required: host keys are always verified). ' +
          'For a PullRequest, "token" is also the GitHub API token. A change to the Secret re-runs the resources that use it.',
      ),
    ),
  },
  { description: 'Credentials for the repository. Omit for anonymous access.' },
);

const Commit = (kind: 'GitCommit' | 'PullRequest') =>
  Type.Object(
    {
      author: Type.Optional(
        Type.String({
          description:
            "Author and committer as 'Name <email>'. Default: the operator-wide identity (flag --default-author).",
          maxLength: limits.author,
          ...validations(authorRules),
        }),
      ),
      message:
        kind === 'GitCommit'
          ? Type.String({
              description: 'Commit message. Templated: $(date), $(date +FORMAT), $(date -u +FORMAT), in UTC.',
              minLength: 1,
              maxLength: limits.message,
            })
          : Type.Optional(
              Type.String({
                description:
                  "Commit message of the pull request's commit. Default: the pull request title. Templated like the title.",
                minLength: 1,
                maxLength: limits.message,
              }),
            ),
    },
    { description: 'The commit to make.' },
  );

const File = Type.Object(
  {
    path: Type.String({
      description:
        "Path of the file in the repository: relative, '/'-separated, without '.', '..' or empty segments, nothing " +
        "inside '.git/', at most 4096 bytes. Templated: 'reports/$(date +%Y%m%d).log'.",
      minLength: 1,
      maxLength: limits.path,
      ...validations(pathRules({ allowTrailingSlash: false })),
    }),
    content: Type.String({
      description: 'Literal file content. Templated: $(date …) is expanded; write $$( for a literal $(.',
      maxLength: limits.fileContent,
    }),
    writeMode: Type.Optional(
      WriteModeField('How the content is written: overwrite (replace the file) or append. Default: spec.writeMode.'),
    ),
  },
  { description: 'A literal file to write.' },
);

const Output = Type.Object(
  {
    path: Type.String({
      description:
        "Where the rendered object goes: a file for 'dump' and 'single-field', a directory for 'fields' (trailing '/' " +
        "optional). Same rules as files[].path. Templated. A 'dump' to a path ending in '.json' is written as JSON, otherwise YAML.",
      minLength: 1,
      maxLength: limits.path,
      ...validations(pathRules({ allowTrailingSlash: true })),
    }),
  },
  { description: 'Where the rendered reference is written.' },
);

const ResourceReference = Type.Object(
  {
    apiVersion: Type.String({
      description:
        "API version of the object, 'v1', 'apps/v1', 'monitoring.coreos.com/v1'. Resolved through discovery.",
      minLength: 1,
      maxLength: 317,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?v[0-9]+((alpha|beta)[0-9]+)?$',
    }),
    kind: Type.String({
      description:
        "Kind of the object, 'ConfigMap', 'Deployment', 'PrometheusRule'. Any served kind, including CRDs and cluster-scoped kinds.",
      minLength: 1,
      maxLength: 63,
      pattern: '^[A-Za-z][A-Za-z0-9]*$',
    }),
    name: KubernetesName('Name of the object.'),
    namespace: Type.Optional(
      Type.String({
        description:
          "Namespace of the object. Default: this resource's namespace. Ignored for cluster-scoped kinds. Other " +
          'namespaces are readable only from a namespace the operator trusts, or through spec.serviceAccountName.',
        minLength: 1,
        maxLength: 63,
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      }),
    ),
    strategy: StringEnum(strategies, {
      description:
        "How the object becomes files. 'dump': the whole object as YAML (JSON for '.json' paths) without server-populated " +
        "fields. 'fields': one file per key of .data/.binaryData (or of .spec for other kinds) under the output directory. " +
        "'single-field': one value, named by 'field', into one file. 'dump' and 'fields' of a Secret are refused unless " +
        'the operator allows Secret export.',
    }),
    field: Type.Optional(
      Type.String({
        description:
          "For 'single-field' only: an exact key of .data/.binaryData ('tls.crt', 'alertmanager.yml'), or else a dotted " +
          "path from the object's root ('spec.replicas', 'metadata.labels.app', 'spec.containers.0.image', " +
          '\'metadata.annotations["example.com/team"]\').',
        minLength: 1,
        maxLength: limits.field,
      }),
    ),
    output: Output,
    optional: Type.Optional(
      Type.Boolean({
        description:
          'When true, a missing object or field is skipped and listed in status.skippedReferences; the rest is still ' +
          'committed. When false (the default), it fails the execution, which is retried.',
        default: false,
      }),
    ),
    writeMode: Type.Optional(WriteModeField('Overrides spec.writeMode for this reference.')),
  },
  {
    description: 'A live object read from the cluster at execution time.',
    ...validations([
      {
        rule: "self.strategy != 'single-field' || has(self.field)",
        message: "is required when strategy is 'single-field': name the key or dotted path to extract",
        fieldPath: '.field',
        reason: 'FieldValueRequired',
      },
      {
        rule: "self.strategy == 'single-field' || !has(self.field)",
        message: "is only used with strategy 'single-field': remove it, or set strategy: single-field",
        fieldPath: '.field',
        reason: 'FieldValueForbidden',
      },
      {
        rule: "self.strategy == 'fields' || !self.output.path.endsWith('/')",
        message: "names a file for strategy 'dump' and 'single-field', so it must not end with '/'",
        fieldPath: '.output.path',
      },
    ]),
  },
);

const PullRequestFields = Type.Object(
  {
    title: Type.String({ description: 'Title of the pull request. Templated.', minLength: 1, maxLength: 256 }),
    body: Type.Optional(
      Type.String({ description: 'Body of the pull request, Markdown. Templated.', maxLength: limits.message }),
    ),
    branchPrefix: Type.Optional(
      Type.String({
        description:
          "Prefix of the head branch, which is '<branchPrefix>-<YYYYMMDDhhmmss>' (UTC, the execution instant).",
        default: 'git-change-operator',
        minLength: 1,
        maxLength: 200,
        ...validations(branchRules),
      }),
    ),
    draft: Type.Optional(Type.Boolean({ description: 'Open the pull request as a draft.', default: false })),
    labels: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: limits.label }), {
        description: 'Labels to add to the pull request. They must exist in the repository.',
        maxItems: limits.labels,
        'x-kubernetes-list-type': 'set',
      }),
    ),
  },
  { description: 'The pull request to open or update.' },
);

function specFields<R extends TSchema>(kind: 'GitCommit' | 'PullRequest', repository: R) {
  return {
    repository,
    auth: Type.Optional(Auth),
    commit: kind === 'GitCommit' ? Commit(kind) : Type.Optional(Commit(kind)),
    files: Type.Optional(
      Type.Array(File, {
        description: 'Literal files to write. Written before resourceReferences.',
        maxItems: limits.files,
      }),
    ),
    resourceReferences: Type.Optional(
      Type.Array(ResourceReference, {
        description: 'Live objects to read from the cluster and write as files.',
        maxItems: limits.references,
      }),
    ),
    writeMode: Type.Optional(
      StringEnum(writeModes, {
        description:
          "Default write mode of every file and reference: 'overwrite' replaces the file, 'append' adds to the file as it " +
          'is at the tip of the branch at commit time (YAML dumps as a new --- document).',
        default: 'overwrite',
      }),
    ),
    serviceAccountName: Type.Optional(
      KubernetesName(
        "Read the referenced objects as this ServiceAccount of this resource's namespace (impersonation), so its RBAC " +
          'decides what may be exported, from any namespace.',
      ),
    ),
    schedule: Type.Optional(
      Type.String({
        description:
          "Run on a schedule, in UTC: a 5-field cron expression ('0 */6 * * *'), @hourly, @daily, @weekly, @monthly, " +
          "@yearly, or '@every <duration>' ('@every 30m'). Each tick is one execution. Without it, the resource runs " +
          'once per spec change and when gco.galos.one/reconcile-requested-at changes.',
        minLength: 1,
        maxLength: limits.schedule,
        ...validations(scheduleRules),
      }),
    ),
    suspend: Type.Optional(
      Type.Boolean({ description: 'When true, no new executions start. Running ones finish.', default: false }),
    ),
  };
}

const atLeastOneSource: CelRule = {
  rule: '(has(self.files) && size(self.files) > 0) || (has(self.resourceReferences) && size(self.resourceReferences) > 0)',
  message: 'must list at least one entry in spec.files or spec.resourceReferences: there is nothing to write otherwise',
};

export const GitCommitSpec = Type.Object(specFields('GitCommit', GitCommitRepository), {
  description: 'What to write, and where.',
  ...validations([atLeastOneSource]),
});

export const PullRequestSpec = Type.Object(
  { ...specFields('PullRequest', PullRequestRepository), pullRequest: PullRequestFields },
  { description: 'What to propose, and where.', ...validations([atLeastOneSource]) },
);

// ---- status -------------------------------------------------------------------------------------

export const conditionTypes = ['Ready', 'Reconciling', 'Stalled'] as const;

/** metav1.Condition, as Kubernetes defines it. */
export const Condition = Type.Object({
  type: Type.String({ description: 'Ready, Reconciling or Stalled (kstatus).', minLength: 1, maxLength: 316 }),
  status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'True, False or Unknown.' }),
  observedGeneration: Type.Optional(
    Type.Integer({ description: 'The generation the condition was set for.', minimum: 0, format: 'int64' }),
  ),
  lastTransitionTime: Time('When the condition last changed status.'),
  reason: Type.String({
    description: 'CamelCase reason, such as Committed or AuthenticationFailed.',
    minLength: 1,
    maxLength: 1024,
  }),
  message: Type.String({ description: 'Human-readable detail.', maxLength: 32_768 }),
});
export type Condition = Static<typeof Condition>;

const SkippedReference = Type.Object({
  apiVersion: Type.String({ description: 'API version of the skipped object.' }),
  kind: Type.String({ description: 'Kind of the skipped object.' }),
  namespace: Type.Optional(Type.String({ description: 'Namespace of the skipped object.' })),
  name: Type.String({ description: 'Name of the skipped object.' }),
  reason: Type.String({ description: 'Why it was skipped: ResourceNotFound or FieldNotFound.' }),
  message: Type.Optional(Type.String({ description: 'Detail.' })),
});

const historyResults = ['Committed', 'UpToDate', 'PullRequestOpened', 'PullRequestUpdated', 'Failed'] as const;

const ExecutionRecord = Type.Object({
  id: Type.String({ description: 'Execution id; also the Gco-Execution trailer of its commit.' }),
  trigger: Type.Optional(
    Type.String({ description: 'What started it: Generation, Schedule, Request or SecretChanged.' }),
  ),
  startTime: Time('When the execution started (its instant, used by the templates).'),
  completionTime: Type.Optional(Time('When it ended.')),
  result: StringEnum(historyResults, { description: 'How it ended.' }),
  reason: Type.Optional(Type.String({ description: 'Reason of the outcome.' })),
  commitSHA: Type.Optional(Type.String({ description: 'The commit it made or found.' })),
  attempts: Type.Optional(Type.Integer({ description: 'Attempts it took.', minimum: 0 })),
  message: Type.Optional(Type.String({ description: 'Detail.', maxLength: 4096 })),
});

const ActiveExecution = Type.Object(
  {
    id: Type.String({ description: 'Execution id.' }),
    trigger: Type.String({ description: 'Generation, Schedule, Request or SecretChanged.' }),
    instant: Time('The instant its templates use; kept across retries so a retry renders the same files.'),
    attempts: Type.Integer({ description: 'Attempts made so far.', minimum: 0 }),
    generation: Type.Optional(Type.Integer({ description: 'The metadata.generation it renders.', format: 'int64' })),
    notBefore: Type.Optional(Time('The next attempt does not start before this (backoff, a rate limit reset).')),
    traceparent: Type.Optional(
      Type.String({
        description:
          "W3C trace context of the execution's first attempt, so that its retries join its trace (only when tracing is on).",
        maxLength: 256,
      }),
    ),
  },
  {
    description: 'The execution in progress, kept so that a retry (or an operator restart) continues it exactly once.',
  },
);

function statusFields(kind: 'GitCommit' | 'PullRequest') {
  const phases =
    kind === 'GitCommit'
      ? (['Pending', 'Running', 'Committed', 'Failed'] as const)
      : (['Pending', 'Running', 'Created', 'Failed'] as const);
  return {
    observedGeneration: Type.Optional(Type.Integer({ description: 'The generation last acted on.', format: 'int64' })),
    conditions: Type.Optional(
      Type.Array(Condition, {
        description: 'Ready, Reconciling and Stalled, following the kstatus conventions.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        maxItems: 8,
      }),
    ),
    phase: Type.Optional(StringEnum(phases, { description: `${phases.join(', ')}.` })),
    message: Type.Optional(Type.String({ description: 'Outcome of the last execution, for humans.' })),
    commitSHA: Type.Optional(Type.String({ description: 'The commit the last successful execution made or found.' })),
    shortCommitSHA: Type.Optional(Type.String({ description: 'The first 7 characters of commitSHA.' })),
    branch: Type.Optional(
      Type.String({ description: 'The branch written to (resolved when spec left it to the default).' }),
    ),
    lastExecutionTime: Type.Optional(Time('When the last execution ended.')),
    nextScheduledTime: Type.Optional(Time('Next schedule tick, when spec.schedule is set.')),
    lastScheduledTime: Type.Optional(Time('The schedule tick last executed.')),
    lastHandledReconcileAt: Type.Optional(
      Type.String({ description: 'The value of gco.galos.one/reconcile-requested-at last acted on.' }),
    ),
    retryCount: Type.Optional(Type.Integer({ description: 'Retries of the current or last execution.', minimum: 0 })),
    authSecretResourceVersion: Type.Optional(
      Type.String({ description: 'resourceVersion of the auth Secret last used: a change re-runs the resource.' }),
    ),
    skippedReferences: Type.Optional(
      Type.Array(SkippedReference, { description: 'Optional references skipped by the last execution.' }),
    ),
    activeExecution: Type.Optional(ActiveExecution),
    executionHistory: Type.Optional(
      Type.Array(ExecutionRecord, {
        description: 'The last executions, newest first.',
        maxItems: limits.historyEntries,
      }),
    ),
  };
}

const pullRequestStatusFields = {
  headBranch: Type.Optional(
    Type.String({ description: 'Head branch of the current proposal, recorded before it is pushed.' }),
  ),
  pullRequestNumber: Type.Optional(Type.Integer({ description: 'Number of the pull request.' })),
  pullRequestURL: Type.Optional(Type.String({ description: 'URL of the pull request.' })),
  pullRequestState: Type.Optional(
    StringEnum(['OPEN', 'CLOSED', 'MERGED'] as const, { description: 'State of the pull request on GitHub.' }),
  ),
};

export const GitCommitStatus = Type.Object(statusFields('GitCommit'), { description: 'Observed state.' });
export const PullRequestStatus = Type.Object(
  { ...statusFields('PullRequest'), ...pullRequestStatusFields },
  { description: 'Observed state.' },
);

export type GitCommitSpec = Static<typeof GitCommitSpec>;
export type GitCommitStatus = Static<typeof GitCommitStatus>;
export type PullRequestSpec = Static<typeof PullRequestSpec>;
export type PullRequestStatus = Static<typeof PullRequestStatus>;
export type ResourceReference = Static<typeof ResourceReference>;
export type FileEntry = Static<typeof File>;

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  creationTimestamp?: string | Date;
}

export interface GitCommit {
  apiVersion: typeof apiVersion;
  kind: 'GitCommit';
  metadata: ObjectMeta;
  spec: GitCommitSpec;
  status?: GitCommitStatus;
}

export interface PullRequest {
  apiVersion: typeof apiVersion;
  kind: 'PullRequest';
  metadata: ObjectMeta;
  spec: PullRequestSpec;
  status?: PullRequestStatus;
}

/** What the CRD generator needs to know about each kind, besides its schemas. */
export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  description: string;
  spec: TSchema;
  status: TSchema;
  printerColumns: Array<{ name: string; type: string; jsonPath: string; description: string; priority?: number }>;
}

const commonColumnsStart = [
  { name: 'Repository', type: 'string', jsonPath: '.spec.repository.url', description: 'Repository URL.' },
];
const commonColumnsEnd = [
  {
    name: 'Ready',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: 'Ready condition.',
    priority: 1,
  },
  {
    name: 'Message',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].message',
    description: 'Ready condition message.',
    priority: 1,
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
];

export const kinds: KindDefinition[] = [
  {
    kind: 'GitCommit',
    plural: 'gitcommits',
    singular: 'gitcommit',
    shortNames: ['gcommit'],
    categories: ['gco'],
    description:
      'GitCommit renders literal files and live cluster objects into files and commits them to a git branch: once per ' +
      'spec change, on a schedule, or on request (annotation gco.galos.one/reconcile-requested-at).',
    spec: GitCommitSpec,
    status: GitCommitStatus,
    printerColumns: [
      ...commonColumnsStart,
      { name: 'Branch', type: 'string', jsonPath: '.status.branch', description: 'Branch written to.' },
      {
        name: 'Phase',
        type: 'string',
        jsonPath: '.status.phase',
        description: 'Pending, Running, Committed or Failed.',
      },
      { name: 'Commit', type: 'string', jsonPath: '.status.shortCommitSHA', description: 'Last commit.' },
      ...commonColumnsEnd,
    ],
  },
  {
    kind: 'PullRequest',
    plural: 'pullrequests',
    singular: 'pullrequest',
    shortNames: ['gpr'],
    categories: ['gco'],
    description:
      'PullRequest renders literal files and live cluster objects into files, pushes them to a head branch and opens ' +
      '(or updates) a GitHub pull request against the base branch.',
    spec: PullRequestSpec,
    status: PullRequestStatus,
    printerColumns: [
      ...commonColumnsStart,
      {
        name: 'Base',
        type: 'string',
        jsonPath: '.spec.repository.baseBranch',
        description: 'Base branch.',
        priority: 1,
      },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Running, Created or Failed.' },
      { name: 'PR', type: 'integer', jsonPath: '.status.pullRequestNumber', description: 'Pull request number.' },
      { name: 'URL', type: 'string', jsonPath: '.status.pullRequestURL', description: 'Pull request URL.' },
      ...commonColumnsEnd,
    ],
  },
];
