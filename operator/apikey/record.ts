import type { V1Secret } from '@kubernetes/client-node';
import type { KeyEntry } from '../../api/apikey.ts';
import { LABELS } from '../../api/constants.ts';
import { KEY_RECORD_SCHEMA_VERSION, sameJson, type KeyRecord, type SuspensionReason } from '../../api/record.ts';
import {
  decodeRecordSecret,
  encodeRecordSecret,
  RECORD_CREATED_AT_ANNOTATION,
  type RecordOwner,
} from '../../api/record-secret.ts';
import type { EffectiveScopes } from './scopes.ts';

// Rendering the hashed key records (one Secret per key id in the records namespace) and reading them
// back from the cache. The Secret format is the one codec in api/record-secret.ts, shared with the gateway.

export type { RecordOwner } from '../../api/record-secret.ts';

export interface RecordContent {
  entry: KeyEntry;
  hash: string;
  owner: RecordOwner;
  environment: KeyRecord['environment'];
  scopes: Pick<EffectiveScopes, 'models' | 'endpoints' | 'ipAllowlist'>;
  /** Team missing or nothing allowed: the key id keeps its lineage state but the gateway must deny it. */
  suspension: SuspensionReason | undefined;
  rateLimit: KeyRecord['rateLimit'];
  budget: KeyRecord['budget'];
}

/** The record's one state (docs/design.md §2): the lineage state, or Suspended while a usable key id is blocked. */
export function renderRecord(c: RecordContent, updatedAt: string): KeyRecord {
  const usable = c.entry.state === 'Active' || c.entry.state === 'Superseded';
  const suspended = usable && c.suspension !== undefined;
  const record: KeyRecord = {
    schemaVersion: KEY_RECORD_SCHEMA_VERSION,
    keyId: c.entry.id,
    hash: c.hash,
    owner: { namespace: c.owner.namespace, name: c.owner.name, uid: c.owner.uid },
    team: c.owner.team,
    state: suspended ? 'Suspended' : c.entry.state,
    expiresAt: c.entry.expiresAt ?? null,
    // Fail closed twice: a suspended record also carries no scope.
    scopes: c.suspension
      ? { models: [], endpoints: [], ipAllowlist: [] }
      : { models: c.scopes.models, endpoints: c.scopes.endpoints, ipAllowlist: c.scopes.ipAllowlist },
    limitsKey: c.owner.uid,
    updatedAt,
  };
  if (suspended) record.suspendedReason = c.suspension;
  if (c.environment !== undefined) record.environment = c.environment;
  if (c.rateLimit && (c.rateLimit.requestsPerMinute !== undefined || c.rateLimit.tokensPerMinute !== undefined))
    record.rateLimit = c.rateLimit;
  if (c.budget) record.budget = c.budget;
  return record;
}

/** Same record, ignoring updatedAt (which only moves when something else changed). */
export function sameRecord(a: KeyRecord, b: KeyRecord): boolean {
  return sameJson({ ...a, updatedAt: '' }, { ...b, updatedAt: '' });
}

export function recordSecret(namespace: string, owner: RecordOwner, record: KeyRecord, createdAt: string): V1Secret {
  return encodeRecordSecret(namespace, owner, record, createdAt);
}

export interface StoredRecord {
  name: string;
  keyId: string | undefined;
  uid: string | undefined;
  record: KeyRecord | undefined;
  createdAt: string | undefined;
}

// Cached objects are immutable (a change replaces the object), so one decode per version of a record
// Secret serves every reconcile that reads it.
const decodedRecords = new WeakMap<V1Secret, Readonly<StoredRecord>>();

/** What a cached record Secret holds; `record` is undefined when it is corrupted. Shared: do not modify. */
export function readRecordSecret(secret: V1Secret): Readonly<StoredRecord> {
  const known = decodedRecords.get(secret);
  if (known) return known;
  const labels = secret.metadata?.labels ?? {};
  const decoded = decodeRecordSecret(secret);
  const record = decoded.ok ? decoded.record : undefined;
  const stored: StoredRecord = {
    name: secret.metadata?.name ?? '',
    keyId: labels[LABELS.keyId] ?? record?.keyId,
    uid: labels[LABELS.apiKeyUid],
    record,
    createdAt: secret.metadata?.annotations?.[RECORD_CREATED_AT_ANNOTATION],
  };
  decodedRecords.set(secret, stored);
  return stored;
}
