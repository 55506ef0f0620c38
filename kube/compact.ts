// Cache transforms (client-go's SetTransform): what an informer keeps of an object. At 10 000 ApiKeys
// the operator caches 30 000 objects, and most of what the API server stores for them is read by
// nothing: managedFields (often larger than the object) and kubectl's last-applied-configuration copy
// of the whole object. These functions return plain objects with only the metadata a consumer reads;
// everything else of the object is kept as it is.
import type { KubernetesObject, V1ManagedFieldsEntry, V1ObjectMeta, V1Secret } from '@kubernetes/client-node';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The metadata fields any of our reconciles or indexes read. */
export function compactMetadata(meta: V1ObjectMeta | undefined, managedFields?: V1ManagedFieldsEntry[]): V1ObjectMeta {
  const m = meta ?? {};
  const out: V1ObjectMeta = { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion };
  if (m.generation !== undefined) out.generation = m.generation;
  // Shown as a key's age (the keys page, ui/view.ts).
  if (m.creationTimestamp) out.creationTimestamp = m.creationTimestamp;
  if (m.labels) out.labels = m.labels;
  if (m.annotations) {
    if (LAST_APPLIED_ANNOTATION in m.annotations) {
      const { [LAST_APPLIED_ANNOTATION]: _dropped, ...rest } = m.annotations;
      if (Object.keys(rest).length > 0) out.annotations = rest;
    } else {
      out.annotations = m.annotations;
    }
  }
  if (m.finalizers?.length) out.finalizers = m.finalizers;
  if (m.ownerReferences?.length) out.ownerReferences = m.ownerReferences;
  // A Date whether the object came from a typed list (Date) or a raw watch event (RFC 3339 string).
  if (m.deletionTimestamp) out.deletionTimestamp = new Date(m.deletionTimestamp);
  if (managedFields?.length) out.managedFields = managedFields;
  return out;
}

/** Any object: metadata compacted (managedFields dropped), the rest (spec, status, data) kept. */
export function compactObject<T extends KubernetesObject>(obj: T): T {
  return { ...obj, metadata: compactMetadata(obj.metadata) };
}

/** A Secret as a plain object: compact metadata, type and data (no class instance, no Date). */
export function compactSecret(secret: V1Secret): V1Secret {
  const out: V1Secret = { metadata: compactMetadata(secret.metadata) };
  if (secret.type) out.type = secret.type;
  if (secret.data) out.data = secret.data;
  return out;
}

/**
 * managedFields reduced to what "who last changed field X, and when" needs: every entry keeps manager,
 * operation, subresource and time, with fieldsV1 pruned to the given paths (e.g. ['f:spec']) — the deeper
 * field sets, usually most of an object's bytes, are dropped.
 */
export function pruneManagedFields(
  entries: readonly V1ManagedFieldsEntry[] | undefined,
  paths: readonly (readonly string[])[],
): V1ManagedFieldsEntry[] {
  const out: V1ManagedFieldsEntry[] = [];
  for (const e of entries ?? []) {
    const fields: Record<string, unknown> = {};
    for (const path of paths) {
      let node: unknown = e.fieldsV1;
      for (const p of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[p] : undefined;
      if (node === undefined) continue;
      let at = fields;
      for (const p of path.slice(0, -1)) {
        at[p] ??= {};
        at = at[p] as Record<string, unknown>;
      }
      at[path.at(-1)!] ??= {};
    }
    const kept: V1ManagedFieldsEntry = { manager: e.manager, operation: e.operation, fieldsV1: fields };
    if (e.subresource) kept.subresource = e.subresource;
    if (e.time) kept.time = e.time;
    out.push(kept);
  }
  return out;
}

/** What a custom object's consumers read of managedFields by default: who wrote spec / metadata, when. */
export const DEFAULT_FIELD_PATHS = [['f:spec'], ['f:metadata']] as const;

/** A custom object: compact metadata with managedFields pruned to DEFAULT_FIELD_PATHS; spec and status kept. */
export function compactCustomObject<T extends KubernetesObject>(obj: T): T {
  return {
    ...obj,
    metadata: compactMetadata(obj.metadata, pruneManagedFields(obj.metadata?.managedFields, DEFAULT_FIELD_PATHS)),
  };
}
