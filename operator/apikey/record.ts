import type { V1Secret } from '@kubernetes/client-node';
import type { KeyEntry } from '../../api/apikey.ts';
import { LABELS, MANAGED_BY, RECORD_DATA_KEY } from '../../api/constants.ts';
import { KEY_RECORD_SCHEMA_VERSION, parseKeyRecord, type KeyRecord } from '../../api/record.ts';
import type { EffectiveScopes } from './scopes.ts';

// Rendering and reading the hashed key records (one Secret per key id in the records namespace).
// The gateway reads exactly data[RECORD_DATA_KEY] (base64 JSON KeyRecord) and the name nemokeys-key-<id>.

export const RECORD_SECRET_PREFIX = 'nemokeys-key-';
/** Creation instant of the key id (the operator's clock), so a crash-adopted key keeps its true age. */
export const RECORD_CREATED_AT_ANNOTATION = 'keys.nemorouter.io/created-at';

export const recordSecretName = (keyId: string): string => `${RECORD_SECRET_PREFIX}${keyId}`;

export interface RecordOwner {
  namespace: string;
  name: string;
  uid: string;
  team: string;
}

export interface RecordContent {
  entry: KeyEntry;
  hash: string;
  owner: RecordOwner;
  environment: KeyRecord['environment'];
  scopes: Pick<EffectiveScopes, 'models' | 'endpoints' | 'ipAllowlist'>;
  /** Team missing or nothing allowed: the key id keeps its state but the gateway must deny it. */
  suspended: boolean;
  rateLimit: KeyRecord['rateLimit'];
  budget: KeyRecord['budget'];
}

export function renderRecord(c: RecordContent, updatedAt: string): KeyRecord {
  const usable = c.entry.state === 'Active' || c.entry.state === 'Superseded';
  const record: KeyRecord = {
    schemaVersion: KEY_RECORD_SCHEMA_VERSION,
    keyId: c.entry.id,
    hash: c.hash,
    owner: { namespace: c.owner.namespace, name: c.owner.name, uid: c.owner.uid },
    team: c.owner.team,
    state: c.entry.state,
    // While suspended, revoked=true is the fail-closed signal (401) even though the state is still Active.
    revoked: !usable || c.suspended,
    expiresAt: c.entry.expiresAt ?? null,
    scopes: c.suspended ? { models: [], endpoints: [], ipAllowlist: [] } : { models: c.scopes.models, endpoints: c.scopes.endpoints, ipAllowlist: c.scopes.ipAllowlist },
    limitsKey: c.owner.uid,
    updatedAt,
  };
  if (c.environment !== undefined) record.environment = c.environment;
  if (c.rateLimit && (c.rateLimit.requestsPerMinute !== undefined || c.rateLimit.tokensPerMinute !== undefined)) record.rateLimit = c.rateLimit;
  if (c.budget) record.budget = c.budget;
  return record;
}

/** Same record, ignoring updatedAt (which only moves when something else changed). */
export function sameRecord(a: KeyRecord, b: KeyRecord): boolean {
  return canonical({ ...a, updatedAt: '' }) === canonical({ ...b, updatedAt: '' });
}

export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export function recordLabels(owner: RecordOwner, keyId: string): Record<string, string> {
  return {
    [LABELS.record]: 'true',
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.keyId]: keyId,
    [LABELS.apiKeyUid]: owner.uid,
    [LABELS.apiKeyNamespace]: owner.namespace,
    [LABELS.apiKeyName]: owner.name,
    [LABELS.team]: owner.team,
  };
}

export function recordSecret(namespace: string, owner: RecordOwner, record: KeyRecord, createdAt: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: recordSecretName(record.keyId),
      namespace,
      labels: recordLabels(owner, record.keyId),
      annotations: { [RECORD_CREATED_AT_ANNOTATION]: createdAt },
    },
    data: { [RECORD_DATA_KEY]: Buffer.from(canonical(record)).toString('base64') },
  };
}

export interface StoredRecord {
  name: string;
  keyId: string | undefined;
  uid: string | undefined;
  record: KeyRecord | undefined;
  createdAt: string | undefined;
}

/** What a cached record Secret holds; `record` is undefined when it is corrupted. */
export function readRecordSecret(secret: V1Secret): StoredRecord {
  const labels = secret.metadata?.labels ?? {};
  const b64 = secret.data?.[RECORD_DATA_KEY];
  const parsed = b64 === undefined ? undefined : parseKeyRecord(Buffer.from(b64, 'base64').toString('utf8'));
  const name = secret.metadata?.name ?? '';
  const record = parsed?.ok && recordSecretName(parsed.record.keyId) === name ? parsed.record : undefined;
  return {
    name,
    keyId: labels[LABELS.keyId] ?? record?.keyId,
    uid: labels[LABELS.apiKeyUid],
    record,
    createdAt: secret.metadata?.annotations?.[RECORD_CREATED_AT_ANNOTATION],
  };
}
