/**
 * What the execution engine needs of a kind, and what the kind's `publish` gets and gives back. The
 * status is the API's (api/v1/status.ts): the engine reads and writes the fields every kind shares, a
 * kind's publish its own.
 */
import type { Logger } from '@gco/common/logger';
import type { SharedSpec } from '../../api/v1/spec.ts';
import type { ActiveExecution, ExecutionStatus, SuccessResult } from '../../api/v1/status.ts';
import type { SkippedReference } from '../../render/render.ts';
import type { KubeObject } from '../../runtime/resources.ts';
import type { MergePatch } from '../../runtime/status.ts';

/** What the engine reads of a spec: whose Secret, which schedule, whether suspended. */
export type ExecutableSpec = Pick<SharedSpec, 'auth' | 'schedule' | 'suspend'>;

export type Executable = KubeObject & { spec: ExecutableSpec; status?: ExecutionStatus };

/** The status of an Executable, as its kind types it. */
export type StatusOf<T extends Executable> = NonNullable<T['status']>;

/** A patch of the fields a kind adds to the shared status (a pull request's number, its head branch). */
export type KindStatusPatch<S extends ExecutionStatus> = MergePatch<Omit<S, keyof ExecutionStatus>>;

/** A patch of the status every kind shares. */
export type StatusPatch = MergePatch<ExecutionStatus>;

/** What a successful execution did, as the kind describes it. */
export interface Outcome<S extends ExecutionStatus = ExecutionStatus> {
  /** Status reason and history result. */
  result: SuccessResult;
  phase: NonNullable<S['phase']>;
  message: string;
  commitSHA?: string;
  branch?: string;
  skipped: SkippedReference[];
  /** Kind-specific status fields (head branch, pull request number…). */
  status?: KindStatusPatch<S>;
}

export interface ExecutionContext<S extends ExecutionStatus = ExecutionStatus> {
  execution: ActiveExecution;
  instant: Date;
  /** Reports the resourceVersion of the auth Secret this attempt read its credentials from. */
  secretRead(resourceVersion: string): void;
  /** Records kind-specific status before a side effect (a PR's head branch before its push). */
  saveStatus(fields: KindStatusPatch<S>): Promise<void>;
  logger: Logger;
  /** Aborted when the operator shuts down or loses the Lease: every API read and sidecar call takes it. */
  signal: AbortSignal;
}

/** What a kind publishes for one attempt of an execution: a commit, a pull request. */
export type Publish<T extends Executable> = (
  obj: T,
  ctx: ExecutionContext<StatusOf<T>>,
) => Promise<Outcome<StatusOf<T>>>;

/**
 * resourceVersion of a resource's auth Secret: as the (metadata-only) cache has it, and as the API
 * server has it now ('' when the Secret does not exist). The cache says cheaply that something may have
 * changed; the live read confirms it, since a cache behind a broken watch lags.
 */
export interface SecretVersions<T extends Executable> {
  cached(obj: T): string;
  live(obj: T, signal?: AbortSignal): Promise<string>;
}
