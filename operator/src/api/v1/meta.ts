/**
 * What every kind of gco.galos.one/v1 shares outside its schemas: the group, object metadata as the
 * operator reads it, and the names a kind is addressed by.
 */

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

/**
 * A kind's names, as its CRD declares them and the runtime addresses it (the REST resource, the
 * controller's name). What only the CRD carries (schemas, printer columns) is in schema/kind.ts.
 */
export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
}
