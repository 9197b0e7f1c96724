/**
 * gco.galos.one/v1: GitCommit and PullRequest, written once.
 *
 * These TypeBox schemas are the single source of truth: the static types are derived from them, and
 * `npm run generate` turns them into the CRD YAML of manifests/crds/ and charts/git-change-operator/crds/
 * (as controller-gen does for Kubebuilder). Descriptions are what `kubectl explain` shows, so they are
 * written for users. One module per kind (gitcommit.ts, pullrequest.ts) on what they share: spec.ts,
 * status.ts, annotations.ts, printer-columns.ts; the strategies come from the registry in render/.
 */
import { gitCommitDefinition } from './gitcommit.ts';
import type { KindDefinition } from './meta.ts';
import { pullRequestDefinition } from './pullrequest.ts';

export * from './annotations.ts';
export * from './gitcommit.ts';
export * from './meta.ts';
export * from './pullrequest.ts';
export type { FileEntry, ResourceReference, SharedSpec, WriteMode } from './spec.ts';
export { writeModes } from './spec.ts';
export * from './status.ts';

/** Every kind of the group, in the order the generator writes them. */
export const kinds: KindDefinition[] = [gitCommitDefinition, pullRequestDefinition];
