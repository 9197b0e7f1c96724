/**
 * The I/O half of rendering, shared by both kinds: read the auth Secret and the referenced objects,
 * then render (pure) and template the commit message. Produces everything a sidecar job needs.
 */

import { create } from '@bufbuild/protobuf';
import { inSpan } from '@gco/common/telemetry';
import { type Author, branchNameProblem, parseAuthor } from '@gco/common/validation';
import type { Credentials, FileOperation as SidecarOperation } from '@gco/sidecar-api';
import { FileMode, FileOperationSchema } from '@gco/sidecar-api';
import type { GitCommitSpec, PullRequestSpec, SharedSpec } from '../../api/v1/types.ts';
import { render, type SkippedReference, template } from '../../render/render.ts';
import { RenderError } from '../../render/strategies.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { Discovery } from '../../runtime/resources.ts';
import { credentialsFromSecret, readAuthSecret } from './credentials.ts';
import { permanent, transient } from './failure.ts';
import { readReferences } from './references.ts';

export interface RenderSettings {
  client: KubeClient;
  discovery: Discovery;
  trustedNamespaces: ReadonlySet<string>;
  allowSecretExport: boolean;
  allowFileUrls: boolean;
  defaultAuthor: { name: string; email: string };
}

/** What rendering reads of either kind's spec. */
export type RenderableSpec = Pick<
  SharedSpec,
  'auth' | 'files' | 'resourceReferences' | 'writeMode' | 'serviceAccountName'
> & {
  /** A GitCommit's target branch or a PullRequest's base branch. */
  repository: Partial<GitCommitSpec['repository'] & PullRequestSpec['repository']> & { url: string };
  commit?: Partial<GitCommitSpec['commit']>;
  pullRequest?: Pick<PullRequestSpec['pullRequest'], 'branchPrefix'>;
};

export interface RenderedExecution {
  credentials: Credentials | undefined;
  operations: SidecarOperation[];
  author: { name: string; email: string };
  /** The commit message, templated; undefined when the spec has none. */
  message: string | undefined;
  skipped: SkippedReference[];
}

/** Reasons a RenderError carries, as permanent or transient failures. */
const transientRenderReasons = new Set(['FieldNotFound']);

function authorOf(text: string | undefined, fallback: Author): Author {
  if (!text) return fallback;
  const author = parseAuthor(text);
  if (!author) throw permanent('InvalidSpec', `spec.commit.author: '${text}' is not 'Name <email>'`);
  return author;
}

/**
 * The CRD's CEL rules refuse these names at admission; this holds objects admitted before them (or by a
 * CRD without them), so that no resource can create a branch that shadows another's.
 */
function checkBranchNames(spec: RenderableSpec): void {
  const prefix = spec.pullRequest?.branchPrefix;
  const names: Array<[string, string | undefined]> = [
    ['spec.repository.branch', spec.repository.branch],
    ['spec.repository.baseBranch', spec.repository.baseBranch],
    // The head branch is '<prefix>-<YYYYMMDDhhmmss>': the prefix is checked as part of such a name.
    ['spec.pullRequest.branchPrefix', prefix === undefined ? undefined : `${prefix}-20060102150405`],
  ];
  for (const [field, name] of names) {
    const problem = name === undefined ? undefined : branchNameProblem(name);
    if (problem) {
      const shown = field.endsWith('branchPrefix') ? prefix : name;
      throw permanent('InvalidBranch', `${field}: ${JSON.stringify(shown)} is not a valid branch name: it ${problem}`);
    }
  }
}

export async function renderExecution(
  settings: RenderSettings,
  namespace: string,
  spec: RenderableSpec,
  ctx: {
    instant: Date;
    signal?: AbortSignal;
    /** Told the resourceVersion of the auth Secret the credentials come from. */
    secretRead?(resourceVersion: string): void;
  },
): Promise<RenderedExecution> {
  const { instant, signal } = ctx;
  if (spec.repository.url.startsWith('file://') && !settings.allowFileUrls) {
    throw permanent(
      'InvalidRepositoryURL',
      'spec.repository.url: file:// URLs are refused unless the operator runs with --allow-file-urls',
    );
  }
  checkBranchNames(spec);
  const secretName = spec.auth?.secretName;
  // The version comes from the same read as the content, so status records the credentials actually used.
  const readCredentials = async (name: string) => {
    const secret = await readAuthSecret(settings.client, namespace, name, signal);
    ctx.secretRead?.(secret.metadata.resourceVersion ?? '');
    return credentialsFromSecret(secret, spec.repository.url);
  };
  const references = spec.resourceReferences ?? [];
  const { credentials, objects, namespaces } = await inSpan(
    'read objects',
    { 'gco.references': references.length },
    async () => ({
      credentials: secretName ? await readCredentials(secretName) : undefined,
      ...(await readReferences(settings.client, settings.discovery, {
        namespace,
        serviceAccountName: spec.serviceAccountName,
        references,
        trustedNamespaces: settings.trustedNamespaces,
        signal,
      })),
    }),
  );
  try {
    const { operations, skipped } = inSpan('render', { 'gco.references': references.length }, () =>
      render({
        files: spec.files,
        resourceReferences: spec.resourceReferences,
        writeMode: spec.writeMode,
        objects,
        namespaces,
        instant,
        allowSecretExport: settings.allowSecretExport,
      }),
    );
    return {
      credentials,
      operations: operations.map((op) =>
        create(FileOperationSchema, {
          path: op.path,
          content: op.content,
          mode: op.mode === 'append' ? FileMode.APPEND : FileMode.OVERWRITE,
          yamlDocument: op.yamlDocument,
        }),
      ),
      author: authorOf(spec.commit?.author, settings.defaultAuthor),
      message:
        spec.commit?.message === undefined ? undefined : template(spec.commit.message, instant, 'spec.commit.message'),
      skipped,
    };
  } catch (error) {
    if (error instanceof RenderError) {
      throw transientRenderReasons.has(error.reason)
        ? transient(error.reason, error.message)
        : permanent(error.reason, error.message);
    }
    throw error;
  }
}
