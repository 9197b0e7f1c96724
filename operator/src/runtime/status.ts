/**
 * Writes an object's status through the status subresource with a merge patch. Without a
 * resourceVersion it never conflicts; with one (`guard`), it applies only if the object is still the
 * version that was read, else the API server answers 409 Conflict.
 */
import type { KubeClient } from './kube-client.ts';
import { type KubeObject, objectPath, type ResourceType } from './resources.ts';

/**
 * A JSON merge patch (RFC 7396) of T: every field may be left out (unchanged) or null (removed); objects
 * are patched field by field, arrays replaced whole.
 */
export type MergePatch<T> = {
  [K in keyof T]?:
    | (NonNullable<T[K]> extends readonly unknown[]
        ? T[K]
        : NonNullable<T[K]> extends object
          ? MergePatch<NonNullable<T[K]>>
          : T[K])
    | null;
};

export async function patchStatus<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  status: object,
  guard?: string,
): Promise<T> {
  return client.request<T>('PATCH', `${objectPath(type, obj.metadata.namespace, obj.metadata.name)}/status`, {
    body: guard ? { metadata: { resourceVersion: guard }, status } : { status },
    contentType: 'application/merge-patch+json',
  });
}

/** An owner reference to `owner`, for objects the controller creates on its behalf. */
export function ownerReference(owner: KubeObject, controller = true) {
  return {
    apiVersion: owner.apiVersion ?? '',
    kind: owner.kind ?? '',
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? '',
    controller,
    blockOwnerDeletion: true,
  };
}
