/**
 * gco.galos.one/v1: GitCommit and PullRequest, written once.
 *
 * The TypeBox schemas (schema/) are the single source of truth: the static types are derived from them,
 * and `npm run generate` turns them into the CRD YAML of manifests/crds/ and charts/git-change-operator/crds/
 * (as controller-gen does for Kubebuilder). Descriptions are what `kubectl explain` shows, so they are
 * written for users. One schema module per kind (schema/gitcommit.ts, schema/pullrequest.ts) on what
 * they share (schema/spec.ts, schema/status.ts, schema/printer-columns.ts); the strategies come from the
 * registry in render/.
 *
 * What the operator uses at run time, the kinds' names, phases, condition types, annotations and limits,
 * lives beside them in modules that do not load TypeBox (gitcommit.ts, pullrequest.ts, status.ts,
 * spec.ts, annotations.ts, limits.ts, meta.ts): the running operator never needs a JSON schema, and
 * TypeBox with the schemas costs megabytes. Its code imports values from those, never from this module
 * or schema/ (types from anywhere: they are erased); a test holds it to that (startup-imports.ts in
 * hack/testenv).
 */
import { gitCommitSchema } from './schema/gitcommit.ts';
import type { KindSchema } from './schema/kind.ts';
import { pullRequestSchema } from './schema/pullrequest.ts';

export * from './annotations.ts';
export * from './gitcommit.ts';
export * from './limits.ts';
export * from './meta.ts';
export * from './pullrequest.ts';
export type { KindSchema } from './schema/kind.ts';
export type { PrinterColumn } from './schema/printer-columns.ts';
export * from './spec.ts';
export * from './status.ts';

/** Every kind of the group with its schemas, in the order the generator writes them. */
export const kinds: KindSchema[] = [gitCommitSchema, pullRequestSchema];
