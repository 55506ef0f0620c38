// Reads and writes shared by the operator and the gateway, on kube/client.ts. Every write names a field
// manager so `kubectl get -o yaml --show-managed-fields` tells who owns what, and every patch sets its
// content type explicitly (a merge patch and a JSON patch of the same body mean different things).
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient, Query } from './client.ts';
import { isNotFound } from './errors.ts';
import { resourcePath, resourceTypeOf, type ResourceType } from './resources.ts';

export { apiErrorMessage, isConflict, isGone, isNotFound, statusCodeOf } from './errors.ts';

export const PATCH = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
} as const;

/** Identifies any object: apiVersion + kind + name (+ namespace). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ApplyOptions {
  fieldManager: string;
  /** Take ownership of fields another manager set (controllers own what they render). Default true. */
  force?: boolean;
}

async function pathOf(kube: KubeClient, ref: ObjectRef, subresource?: string): Promise<string> {
  const type = await resourceTypeOf(kube, ref.apiVersion, ref.kind);
  return resourcePath(type, { namespace: ref.namespace, name: ref.name, subresource });
}

const refOf = (obj: KubernetesObject): ObjectRef => ({
  apiVersion: obj.apiVersion ?? '',
  kind: obj.kind ?? '',
  name: obj.metadata?.name ?? '',
  namespace: obj.metadata?.namespace,
});

/**
 * Server-side apply (`application/apply-patch+yaml`): creates or updates `obj` so the fields this
 * manager owns are exactly those given. Secrets must use `data` (base64), not `stringData`: the API
 * server folds stringData into data, so an applied stringData would fight the stored data forever.
 */
export async function applyObject<T extends KubernetesObject>(
  kube: KubeClient,
  obj: T,
  opts: ApplyOptions,
): Promise<T> {
  if ((obj as { stringData?: unknown }).stringData !== undefined) {
    throw new Error(
      `applyObject ${obj.kind} ${obj.metadata?.name}: use data (base64), not stringData, with server-side apply`,
    );
  }
  return kube.request<T>('PATCH', await pathOf(kube, refOf(obj)), {
    query: { fieldManager: opts.fieldManager, force: opts.force ?? true },
    body: obj,
    contentType: PATCH.apply,
  });
}

export interface CustomResourceRef {
  group: string;
  version: string;
  plural: string;
  namespace: string;
  name: string;
}

/**
 * JSON-merge-patches `{status}` on the /status subresource (spec and metadata are untouched there).
 * Arrays (conditions, keys) are replaced whole, so pass the complete desired list.
 * With `resourceVersion` the write fails with 409 if the object changed since it was read.
 */
export async function patchCustomStatus<S>(
  kube: KubeClient,
  ref: CustomResourceRef,
  status: S,
  opts: { fieldManager: string; resourceVersion?: string },
): Promise<KubernetesObject> {
  const body: Record<string, unknown> = { status };
  if (opts.resourceVersion) body.metadata = { resourceVersion: opts.resourceVersion };
  const type: ResourceType = { group: ref.group, version: ref.version, plural: ref.plural, namespaced: true };
  return kube.request('PATCH', resourcePath(type, { ...ref, subresource: 'status' }), {
    query: { fieldManager: opts.fieldManager },
    body,
    contentType: PATCH.merge,
  });
}

export interface MetadataPatch {
  finalizers?: string[];
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
  /** Optimistic concurrency: finalizers are replaced whole, so guard the read-modify-write. */
  resourceVersion?: string;
}

/** JSON-merge-patches metadata (finalizers, labels, annotations) of any object. */
export async function patchMetadata<T extends KubernetesObject>(
  kube: KubeClient,
  ref: ObjectRef,
  metadata: MetadataPatch,
  opts: { fieldManager: string },
): Promise<T> {
  return kube.request<T>('PATCH', await pathOf(kube, ref), {
    query: { fieldManager: opts.fieldManager },
    body: { metadata },
    contentType: PATCH.merge,
  });
}

/** Deletes the object; returns false when it was already gone (deletes are idempotent for us). */
export async function deleteIfExists(
  kube: KubeClient,
  ref: ObjectRef,
  opts: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; uid?: string } = {},
): Promise<boolean> {
  // A uid precondition makes sure we never delete a same-named successor created in the meantime.
  const body = {
    apiVersion: 'v1',
    kind: 'DeleteOptions',
    ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
    ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
  };
  try {
    await kube.request('DELETE', await pathOf(kube, ref), { body });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Reads any object, or undefined when it does not exist. */
export async function readIfExists<T extends KubernetesObject>(
  kube: KubeClient,
  ref: ObjectRef,
): Promise<T | undefined> {
  return readObject<T>(kube, await resourceTypeOf(kube, ref.apiVersion, ref.kind), ref.namespace, ref.name);
}

/** GET one object of a known type, or undefined when it does not exist. */
export async function readObject<T>(
  kube: KubeClient,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
): Promise<T | undefined> {
  try {
    return await kube.request<T>('GET', resourcePath(type, { namespace, name }));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface ObjectList<T> {
  items: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** One page of a list (all namespaces when `namespace` is omitted). */
export function listObjects<T>(kube: KubeClient, type: ResourceType, opts: ListOptions = {}): Promise<ObjectList<T>> {
  const { namespace, ...rest } = opts;
  return kube.request<ObjectList<T>>('GET', resourcePath(type, { namespace }), { query: rest as Query });
}

/** POST a new object into its namespace (409 AlreadyExists when the name is taken). */
export function createObject<T extends KubernetesObject>(
  kube: KubeClient,
  type: ResourceType,
  obj: T,
  opts: { fieldManager?: string } = {},
): Promise<T> {
  return kube.request<T>('POST', resourcePath(type, { namespace: obj.metadata?.namespace }), {
    query: { fieldManager: opts.fieldManager },
    body: obj,
  });
}

/** PUT the whole object (optimistic concurrency through its metadata.resourceVersion). */
export function replaceObject<T extends KubernetesObject>(
  kube: KubeClient,
  type: ResourceType,
  obj: T,
  opts: { fieldManager?: string } = {},
): Promise<T> {
  const where = { namespace: obj.metadata?.namespace, name: obj.metadata?.name };
  return kube.request<T>('PUT', resourcePath(type, where), { query: { fieldManager: opts.fieldManager }, body: obj });
}

/** PATCH with an explicit content type (PATCH.merge, PATCH.json, ...). */
export function patchObject<T>(
  kube: KubeClient,
  type: ResourceType,
  where: { namespace?: string; name: string; subresource?: string },
  body: unknown,
  opts: { contentType: string; fieldManager?: string; force?: boolean },
): Promise<T> {
  return kube.request<T>('PATCH', resourcePath(type, where), {
    query: { fieldManager: opts.fieldManager, force: opts.force },
    body,
    contentType: opts.contentType,
  });
}
