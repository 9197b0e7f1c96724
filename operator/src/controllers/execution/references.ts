/**
 * Reads the objects a resource references, enforcing who may export what: without
 * `serviceAccountName`, the operator's own identity reads, and only from the resource's own namespace
 * unless that namespace is trusted; with it, reads impersonate that ServiceAccount, whose RBAC decides.
 */
import type { ResourceReference } from '../../api/v1/types.ts';
import { ApiError, isNotFound, type KubeClient } from '../../runtime/kube-client.ts';
import { type Discovery, KindNotFoundError, type KubeObject, objectPath } from '../../runtime/resources.ts';
import { permanent, transient } from './failure.ts';

export interface ReadReferencesInput {
  namespace: string;
  serviceAccountName?: string;
  references: ResourceReference[];
  trustedNamespaces: ReadonlySet<string>;
  /** Cancels the reads (operator shutdown, lost Lease). */
  signal?: AbortSignal;
}

export interface ReadReferencesOutput {
  objects: Array<KubeObject | undefined>;
  namespaces: Array<string | undefined>;
}

export async function readReferences(
  client: KubeClient,
  discovery: Discovery,
  input: ReadReferencesInput,
): Promise<ReadReferencesOutput> {
  // Only the user is impersonated: impersonating groups would need a permission that lets the
  // operator claim any group. Bindings to the ServiceAccount itself apply.
  const reader = input.serviceAccountName
    ? client.impersonating({ user: `system:serviceaccount:${input.namespace}:${input.serviceAccountName}` })
    : client;
  const objects: Array<KubeObject | undefined> = [];
  const namespaces: Array<string | undefined> = [];
  for (const [i, ref] of input.references.entries()) {
    const field = `spec.resourceReferences[${i}]`;
    let type: Awaited<ReturnType<Discovery['resolve']>>;
    try {
      type = await discovery.resolve(ref.apiVersion, ref.kind);
    } catch (error) {
      if (error instanceof KindNotFoundError) {
        throw transient('KindNotFound', `${field}: ${error.message} (is its CRD installed?)`);
      }
      throw error;
    }
    const namespace = type.namespaced ? (ref.namespace ?? input.namespace) : undefined;
    if (
      namespace &&
      namespace !== input.namespace &&
      !input.serviceAccountName &&
      !input.trustedNamespaces.has(input.namespace)
    ) {
      throw permanent(
        'NamespaceNotAllowed',
        `${field}: ${ref.kind} ${namespace}/${ref.name} is in another namespace than this resource (${input.namespace}). ` +
          `Set spec.serviceAccountName to a ServiceAccount allowed to read it, or start the operator with ` +
          `--trusted-namespaces=${input.namespace}`,
      );
    }
    namespaces.push(namespace);
    try {
      objects.push({
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        ...(await reader.get<KubeObject>(objectPath(type, namespace, ref.name), { signal: input.signal })),
      });
    } catch (error) {
      const what = `${ref.kind} ${namespace ? `${namespace}/` : ''}${ref.name}`;
      if (isNotFound(error)) {
        if (ref.optional) {
          objects.push(undefined);
          continue;
        }
        throw transient('ResourceNotFound', `${field}: ${what} does not exist`);
      }
      if (error instanceof ApiError && error.status === 403) {
        const who = input.serviceAccountName
          ? `ServiceAccount ${input.namespace}/${input.serviceAccountName}`
          : 'the operator';
        throw permanent('ReferenceForbidden', `${field}: ${who} may not read ${what}: ${error.message}`);
      }
      throw transient('APIError', `${field}: reading ${what}: ${(error as Error).message}`);
    }
  }
  return { objects, namespaces };
}
