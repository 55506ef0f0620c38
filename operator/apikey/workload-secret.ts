import type { V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { ANNOTATIONS, API_VERSION, KINDS, LABELS, MANAGED_BY } from '../../api/constants.ts';
import { hashKey, keyHint, parseKey } from '../../api/keyformat.ts';
import type { ApiKeyObject, DesiredWorkloadSecret } from './types.ts';

// The workload Secret: the ONLY object holding plaintext. Inspecting it yields the key id, hint and
// hash — never the plaintext itself — so nothing downstream of this function can leak it.

export interface SecretInspection {
  exists: boolean;
  /** Labelled as ours; a foreign Secret with the same name is never overwritten. */
  ours: boolean;
  /** Annotation key id, set when the Secret was written. */
  annotatedKeyId: string | undefined;
  /** Present when the data key holds a well-formed key whose id matches the annotation. */
  valid?: { keyId: string; hash: string; hint: string };
}

export function inspectWorkloadSecret(
  secret: V1Secret | undefined,
  dataKey: string,
  apiKeyName: string,
): SecretInspection {
  if (!secret) return { exists: false, ours: false, annotatedKeyId: undefined };
  const labels = secret.metadata?.labels ?? {};
  const ours =
    labels[LABELS.workloadSecret] === 'true' &&
    labels[LABELS.managedBy] === MANAGED_BY &&
    labels[LABELS.apiKeyName] === apiKeyName;
  const annotatedKeyId = secret.metadata?.annotations?.[ANNOTATIONS.keyId];
  const b64 = secret.data?.[dataKey];
  if (!ours || b64 === undefined || annotatedKeyId === undefined) return { exists: true, ours, annotatedKeyId };
  const key = Buffer.from(b64, 'base64').toString('utf8').trim();
  const parsed = parseKey(key);
  if (!parsed.ok || parsed.keyId !== annotatedKeyId) return { exists: true, ours, annotatedKeyId };
  return { exists: true, ours, annotatedKeyId, valid: { keyId: parsed.keyId, hash: hashKey(key), hint: keyHint(key) } };
}

export function controllerReference(apiKey: ApiKeyObject): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KINDS.apiKey.kind,
    name: apiKey.metadata?.name ?? '',
    uid: apiKey.metadata?.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function desiredWorkloadSecret(
  apiKey: ApiKeyObject,
  name: string,
  dataKey: string,
  keyId: string,
  team: string,
): DesiredWorkloadSecret {
  return {
    namespace: apiKey.metadata?.namespace ?? '',
    name,
    dataKey,
    keyId,
    labels: {
      [LABELS.workloadSecret]: 'true',
      [LABELS.managedBy]: MANAGED_BY,
      [LABELS.apiKeyName]: apiKey.metadata?.name ?? '',
      [LABELS.team]: team,
    },
    annotations: { [ANNOTATIONS.keyId]: keyId },
    ownerReference: controllerReference(apiKey),
  };
}

/** True when the cached Secret already matches the desired metadata and holds the desired key id. */
export function secretUpToDate(
  cached: V1Secret | undefined,
  desired: DesiredWorkloadSecret,
  inspection: SecretInspection,
): boolean {
  if (!cached || inspection.valid?.keyId !== desired.keyId) return false;
  const meta = cached.metadata ?? {};
  const hasAll = (have: Record<string, string> | undefined, want: Record<string, string>) =>
    Object.entries(want).every(([k, v]) => have?.[k] === v);
  const owner = (meta.ownerReferences ?? []).find((r) => r.controller);
  return (
    hasAll(meta.labels, desired.labels) &&
    hasAll(meta.annotations, desired.annotations) &&
    owner?.uid === desired.ownerReference.uid
  );
}
