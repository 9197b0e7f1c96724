/**
 * Kinds and their REST paths, found through API discovery (any served kind: built-in, CRD,
 * cluster-scoped), with a cache that is refreshed when a kind is not found (a CRD installed later).
 */
import { ApiError, type KubeClient } from './kube-client.ts';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    ownerReferences?: OwnerReference[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export function apiVersionOf(type: Pick<ResourceType, 'group' | 'version'>): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

function basePath(type: Pick<ResourceType, 'group' | 'version'>): string {
  return type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
}

/** Collection path; `namespace` undefined means all namespaces (or a cluster-scoped kind). */
export function collectionPath(type: ResourceType, namespace?: string): string {
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${basePath(type)}${ns}/${type.plural}`;
}

export function objectPath(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${collectionPath(type, namespace)}/${encodeURIComponent(name)}`;
}

export function objectKey(obj: { metadata: { namespace?: string; name: string } }): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

interface APIResourceList {
  resources: Array<{ name: string; kind: string; namespaced: boolean }>;
}

export class KindNotFoundError extends Error {}

export class Discovery {
  private readonly client: KubeClient;
  private readonly cache = new Map<string, { list: APIResourceList; at: number }>();
  private readonly ttlMs: number;

  constructor(client: KubeClient, ttlMs = 5 * 60_000) {
    this.client = client;
    this.ttlMs = ttlMs;
  }

  /** The resource type serving `kind` in `apiVersion`; KindNotFoundError when none does. */
  async resolve(apiVersion: string, kind: string): Promise<ResourceType> {
    const slash = apiVersion.indexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    for (const refresh of [false, true]) {
      const list = await this.resources(group, version, refresh);
      const found = list?.resources.find((r) => r.kind === kind && !r.name.includes('/'));
      if (found) return { group, version, kind, plural: found.name, namespaced: found.namespaced };
    }
    throw new KindNotFoundError(`the API server serves no kind ${kind} in ${apiVersion}`);
  }

  private async resources(group: string, version: string, refresh: boolean): Promise<APIResourceList | undefined> {
    const key = `${group}/${version}`;
    const cached = this.cache.get(key);
    if (cached && !refresh && Date.now() - cached.at < this.ttlMs) return cached.list;
    try {
      const list = await this.client.get<APIResourceList>(basePath({ group, version }));
      this.cache.set(key, { list, at: Date.now() });
      return list;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }
}
