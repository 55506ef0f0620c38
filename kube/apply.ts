// Writes shared by the operator and the gateway. Every write names a field manager so
// `kubectl get -o yaml --show-managed-fields` tells who owns what, and every patch sets its content
// type explicitly: client-node's generated custom-object patch defaults to JSON Patch, which is
// never what we mean.
import {
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { isNotFound } from './errors.ts';

export { apiErrorMessage, isConflict, isGone, isNotFound, statusCodeOf } from './errors.ts';

interface Clients {
  objects: KubernetesObjectApi;
  custom: CustomObjectsApi;
}
const clientCache = new WeakMap<KubeConfig, Clients>();

/** One client set per KubeConfig: KubernetesObjectApi caches API discovery per instance. */
function clients(kc: KubeConfig): Clients {
  let c = clientCache.get(kc);
  if (!c) {
    c = { objects: KubernetesObjectApi.makeApiClient(kc), custom: kc.makeApiClient(CustomObjectsApi) };
    clientCache.set(kc, c);
  }
  return c;
}

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

/**
 * Server-side apply (`application/apply-patch+yaml`): creates or updates `obj` so the fields this
 * manager owns are exactly those given. Secrets must use `data` (base64), not `stringData`: the API
 * server folds stringData into data, so an applied stringData would fight the stored data forever.
 */
export async function applyObject<T extends KubernetesObject>(kc: KubeConfig, obj: T, opts: ApplyOptions): Promise<T> {
  if ((obj as { stringData?: unknown }).stringData !== undefined) {
    throw new Error(
      `applyObject ${obj.kind} ${obj.metadata?.name}: use data (base64), not stringData, with server-side apply`,
    );
  }
  return clients(kc).objects.patch<T>(
    obj,
    undefined,
    undefined,
    opts.fieldManager,
    opts.force ?? true,
    PatchStrategy.ServerSideApply,
  );
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
  kc: KubeConfig,
  ref: CustomResourceRef,
  status: S,
  opts: { fieldManager: string; resourceVersion?: string },
): Promise<KubernetesObject> {
  const body: Record<string, unknown> = { status };
  if (opts.resourceVersion) body.metadata = { resourceVersion: opts.resourceVersion };
  return clients(kc).custom.patchNamespacedCustomObjectStatus(
    { ...ref, body, fieldManager: opts.fieldManager },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  ) as Promise<KubernetesObject>;
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
  kc: KubeConfig,
  ref: ObjectRef,
  metadata: MetadataPatch,
  opts: { fieldManager: string },
): Promise<T> {
  const body = {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}), ...metadata },
  };
  return clients(kc).objects.patch<T>(
    body as T,
    undefined,
    undefined,
    opts.fieldManager,
    undefined,
    PatchStrategy.MergePatch,
  );
}

/** Deletes the object; returns false when it was already gone (deletes are idempotent for us). */
export async function deleteIfExists(
  kc: KubeConfig,
  ref: ObjectRef,
  opts: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; uid?: string } = {},
): Promise<boolean> {
  const spec: KubernetesObject = {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  };
  // A uid precondition makes sure we never delete a same-named successor created in the meantime.
  const body = opts.uid ? { preconditions: { uid: opts.uid } } : undefined;
  try {
    await clients(kc).objects.delete(spec, undefined, undefined, undefined, undefined, opts.propagationPolicy, body);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Reads any object, or undefined when it does not exist. */
export async function readIfExists<T extends KubernetesObject>(kc: KubeConfig, ref: ObjectRef): Promise<T | undefined> {
  try {
    return await clients(kc).objects.read<T>({
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
    });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
