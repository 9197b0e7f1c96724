/**
 * The spec both kinds share, as the operator reads it. The spec types come from the schemas
 * (schema/spec.ts), the one source of both the CRD and the types.
 */

export type { FileEntry, ResourceReference, SharedSpec } from './schema/spec.ts';

export const writeModes = ['overwrite', 'append'] as const;
export type WriteMode = (typeof writeModes)[number];
