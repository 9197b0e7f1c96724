/**
 * The spec both kinds share: the repository URL, credentials, the commit, literal files and live
 * resource references, write modes, schedule and suspension. Each kind adds its repository shape (a
 * branch, or a base branch) and, for PullRequest, the pull request itself.
 */
import Type, { type Static, type TObject, type TSchema } from 'typebox';
import { strategyNames } from '../../../render/registry.ts';
import { limits } from '../limits.ts';
import { writeModes } from '../spec.ts';
import { KubernetesName, StringEnum, validations } from './builders.ts';
import { strategyText } from './strategy-rules.ts';
import { authorRules, branchRules, type CelRule, pathRules, repositoryUrlRules, scheduleRules } from './validation.ts';

const WriteModeField = (description: string) => StringEnum(writeModes, { description });

export const repositoryUrl = Type.String({
  description:
    "Git repository URL: 'https://host/path', 'http://host/path', 'ssh://user@host[:port]/path' or scp-like 'user@host:path'. " +
    "'file://' URLs are accepted only when the operator runs with --allow-file-urls (tests and development). " +
    'Credentials never go in the URL: use spec.auth.secretName.',
  minLength: 1,
  maxLength: limits.url,
  ...validations(repositoryUrlRules),
});

/** A branch name field: what git takes, minus names that shadow other refs. */
export const BranchName = (description: string) =>
  Type.String({
    description,
    minLength: 1,
    maxLength: limits.branch,
    ...validations(branchRules),
  });

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

/** spec.commit: a GitCommit must say its message; a PullRequest's defaults to its title. */
export const Commit = (message: 'required' | 'defaults to the title') =>
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
        message === 'required'
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
        `Where the rendered object goes: ${strategyText.outputPathTargets}. Same rules as files[].path. Templated. ` +
        "A 'dump' to a path ending in '.json' is written as JSON, otherwise YAML.",
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
    strategy: StringEnum(strategyNames, { description: strategyText.strategyDescription }),
    field: Type.Optional(
      Type.String({
        description:
          `${strategyText.fieldUsedBy}: an exact key of .data/.binaryData ('tls.crt', 'alertmanager.yml'), or else a dotted ` +
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
    ...validations(strategyText.referenceRules),
  },
);

/** The spec fields of every kind, in the order the CRD lists them; `commit` as the kind needs it. */
export function specFields<R extends TSchema, C extends TSchema>(repository: R, commit: C) {
  return {
    repository,
    auth: Type.Optional(Auth),
    commit,
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

/** The rules on every kind's spec. */
export const specRules: CelRule[] = [atLeastOneSource];

/** The spec fields every kind shares, as the processes read them (repository and commit are each kind's). */
export type SharedSpec = Static<
  TObject<Omit<ReturnType<typeof specFields<TSchema, TSchema>>, 'repository' | 'commit'>>
>;
export type ResourceReference = Static<typeof ResourceReference>;
export type FileEntry = Static<typeof File>;
