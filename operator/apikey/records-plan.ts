import type { V1Secret } from '@kubernetes/client-node';
import type { ApiKeySpec, KeyEntry } from '../../api/apikey.ts';
import type { SuspensionReason } from '../../api/record.ts';
import { trimHistory } from '../keys/lifecycle.ts';
import { recordSecret, renderRecord, sameRecord, type RecordOwner, type StoredRecord } from './record.ts';
import type { EffectiveScopes } from './scopes.ts';

// Which record Secrets must exist, and which go. A record exists for every key id in the (bounded)
// lineage whose hash is known; anything else of ours — orphans of an interrupted issue, dropped history,
// corrupted records that cannot be recovered — is deleted.

export interface RecordsPlanInputs {
  keys: KeyEntry[];
  hashes: ReadonlyMap<string, string>;
  owned: readonly StoredRecord[];
  /** Already decided deletions (records of another incarnation of this ApiKey). */
  deleteRecords: readonly string[];
  now: Date;
  recordsNamespace: string;
  /** Why the usable key ids are suspended (their records say Suspended), if they are. */
  suspension: SuspensionReason | undefined;
  spec: ApiKeySpec;
  scopes: EffectiveScopes | undefined;
  owner: RecordOwner;
}

export function desiredRecords(p: RecordsPlanInputs): {
  keys: KeyEntry[];
  records: V1Secret[];
  deleteRecords: string[];
} {
  const [keys] = trimHistory(p.keys);
  const existing = new Map(p.owned.map((r) => [r.keyId, r]));
  const records: V1Secret[] = [];
  const wanted = new Set<string>();
  for (const entry of keys) {
    const hash = p.hashes.get(entry.id);
    const stored = existing.get(entry.id);
    // A terminal key id without a record needs none: unknown and revoked both get 401.
    if (hash === undefined || (entry.state !== 'Active' && entry.state !== 'Superseded' && !stored?.record)) continue;
    const content = {
      entry,
      hash,
      owner: p.owner,
      environment: p.spec.environment,
      scopes: p.scopes ?? { models: [], endpoints: [], ipAllowlist: [] },
      suspension: p.suspension ?? (p.scopes === undefined ? ('TeamInvalid' as const) : undefined),
      rateLimit: p.spec.rateLimit,
      budget: p.spec.budget,
    };
    const draft = renderRecord(content, p.now.toISOString());
    const updatedAt = stored?.record && sameRecord(stored.record, draft) ? stored.record.updatedAt : draft.updatedAt;
    records.push(recordSecret(p.recordsNamespace, p.owner, { ...draft, updatedAt }, entry.createdAt));
    wanted.add(entry.id);
  }
  const deleteRecords = [...p.deleteRecords, ...p.owned.filter((r) => !wanted.has(r.keyId ?? '')).map((r) => r.name)];
  return { keys, records, deleteRecords: [...new Set(deleteRecords)] };
}
