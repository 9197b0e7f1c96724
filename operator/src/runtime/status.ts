/**
 * Writes an object's status through the status subresource. A merge patch carries no resourceVersion,
 * so it never conflicts with spec changes; the controller owns the fields it writes.
 */
import type { KubeClient } from './kube-client.ts';
import { type KubeObject, objectPath, type ResourceType } from './resources.ts';

export async function patchStatus<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  status: Record<string, unknown>,
): Promise<T> {
  return client.request<T>('PATCH', `${objectPath(type, obj.metadata.namespace, obj.metadata.name)}/status`, {
    body: { status },
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
