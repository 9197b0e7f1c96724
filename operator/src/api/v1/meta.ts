/**
 * What every kind of gco.galos.one/v1 shares outside its schemas: the group, object metadata as the
 * operator reads it, and what the CRD generator needs to know about a kind.
 */
import type { TSchema } from 'typebox';

export const group = 'gco.galos.one';
export const version = 'v1';
export const apiVersion = `${group}/${version}`;

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

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description: string;
  priority?: number;
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
  printerColumns: PrinterColumn[];
}
