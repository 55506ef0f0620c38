import type { ChangeKind } from '../../kube/cache-types.ts';
import type { KeyRecord } from '../../api/record.ts';
import { shareRecordParts } from '../records/shared-parts.ts';
import type { RecordStore } from '../records/store.ts';
import { decodeRecordSecret, recordSecretName, type Decoded, type RecordSecret } from '../../api/record-secret.ts';
import { silentLogger, type SourceLogger } from './log.ts';

// Turns informer events on record Secrets into RecordStore swaps. Events are batched: the informer
// announces every object at once on a list (10k adds at start, 10k updates after a restart), and one
// store swap per event would copy the whole index each time. Decoding is skipped when a Secret's
// resourceVersion did not change (a relist re-announces everything), and the store is not touched
// when a batch changed nothing. A Secret that does not hold a valid record is logged once per version
// and left out — if it used to be valid, its key id disappears (fail closed: 401, never stale access).
// A valid record under another key id's Secret name is invalid too, but it still claims that key id: it
// reaches the store as Revoked, so it can take access away and never grant it (docs/design.md §4). The
// store gets every claim on a key id (the Secret named after it, plus any such misnamed ones).

/** `record`: what the store gets from this Secret; `valid`: whether the Secret holds a correct record. */
type Entry = { resourceVersion: string | undefined; record: KeyRecord | undefined; valid: boolean };

export interface SecretIndex {
  /**
   * The informer handler: records the change; the store is updated on the next flush. `decoded`: the
   * Secret's record, when the caller decoded it already (then the Secret need not carry its data).
   */
  onChange(secret: RecordSecret, change: ChangeKind, decoded?: Decoded): void;
  /** Whether this version of the Secret is already decoded (a relist re-announces every Secret). */
  holds(name: string, resourceVersion: string | undefined): boolean;
  /**
   * Applies pending changes to the store (one swap). `confirmed` means a full list was just applied:
   * swap even without changes, so the store is marked synced and its lastSyncAt moves.
   */
  flush(confirmed?: boolean): void;
  /** Record Secrets currently skipped because they do not hold a valid record. */
  readonly invalid: number;
}

export function createSecretIndex(
  store: RecordStore,
  opts: { logger?: SourceLogger; schedule?: (fn: () => void) => void } = {},
): SecretIndex {
  const logger = opts.logger ?? silentLogger;
  const schedule = opts.schedule ?? ((fn) => setImmediate(fn));
  const byName = new Map<string, Entry>();
  let dirty = false;
  let scheduled = false;
  let synced = false;
  let invalid = 0;
  /** Key id → names of misnamed Secrets claiming it (rare: kept apart so the common case costs nothing). */
  const misnamed = new Map<string, Set<string>>();
  const trackMisnamed = (name: string, entry: Entry | undefined, add: boolean) => {
    if (!entry?.record || entry.valid) return;
    const keyId = entry.record.keyId;
    const names = misnamed.get(keyId) ?? new Set<string>();
    if (add) names.add(name);
    else names.delete(name);
    if (names.size > 0) misnamed.set(keyId, names);
    else misnamed.delete(keyId);
  };
  /** Every record claiming `keyId`: the Secret named after it, then misnamed ones. */
  const claimsOn = (keyId: string): KeyRecord[] => {
    const claims: KeyRecord[] = [];
    const own = byName.get(recordSecretName(keyId));
    if (own?.valid && own.record) claims.push(own.record);
    for (const name of misnamed.get(keyId) ?? []) {
      const r = byName.get(name)?.record;
      if (r) claims.push(r);
    }
    return claims;
  };

  /** Secret name → the record the store had for it before this batch (first change wins). */
  const touched = new Map<string, KeyRecord | undefined>();
  const touch = (name: string, before: KeyRecord | undefined) => {
    if (!touched.has(name)) touched.set(name, before);
  };

  const set = (name: string, next: Entry) => {
    const prev = byName.get(name);
    if (prev && !prev.valid) invalid--;
    if (!next.valid) invalid++;
    trackMisnamed(name, prev, false);
    byName.set(name, next);
    trackMisnamed(name, next, true);
    if (prev?.record !== next.record) {
      dirty = true;
      touch(name, prev?.record);
    }
  };

  const flush = (confirmed = false) => {
    scheduled = false;
    const wasSynced = synced;
    if (confirmed) synced = true;
    if (!synced || (!dirty && !confirmed)) return;
    dirty = false;
    if (confirmed || !wasSynced) {
      // A full list: rebuild (and re-confirm) the whole store.
      touched.clear();
      const records: KeyRecord[] = [];
      for (const e of byName.values()) if (e.record) records.push(e.record);
      store.replaceAll(records);
      return;
    }
    // Watch events: only the key ids whose claims changed since the last flush, in place.
    const keyIds = new Set<string>();
    for (const [name, before] of touched) {
      if (before) keyIds.add(before.keyId);
      const now = byName.get(name)?.record;
      if (now) keyIds.add(now.keyId);
    }
    touched.clear();
    const upserts: KeyRecord[] = [];
    const removed: string[] = [];
    for (const keyId of keyIds) {
      const claims = claimsOn(keyId);
      if (claims.length === 0) removed.push(keyId);
      else upserts.push(...claims);
    }
    store.applyChanges(upserts, removed);
  };

  return {
    get invalid() {
      return invalid;
    },
    flush,
    holds(name, resourceVersion) {
      return resourceVersion !== undefined && byName.get(name)?.resourceVersion === resourceVersion;
    },
    onChange(secret, change, predecoded) {
      const name = secret.metadata?.name ?? '';
      if (change === 'delete') {
        const prev = byName.get(name);
        if (prev) {
          byName.delete(name);
          trackMisnamed(name, prev, false);
          if (prev.record) {
            dirty = true;
            touch(name, prev.record);
          }
          if (!prev.valid) invalid--;
        }
      } else {
        const rv = secret.metadata?.resourceVersion;
        const prev = byName.get(name);
        if (prev && rv !== undefined && prev.resourceVersion === rv) return;
        const decoded = predecoded ?? decodeRecordSecret(secret);
        if (decoded.ok) set(name, { resourceVersion: rv, record: shareRecordParts(decoded.record), valid: true });
        else {
          const claim = decoded.claim && { ...decoded.claim, state: 'Revoked' as const };
          const effect = claim ? 'its key id is refused while it exists' : 'skipped';
          const fields = { secret: name, resourceVersion: rv, error: decoded.error };
          logger.warn(fields, `invalid key record Secret; ${effect}`);
          set(name, { resourceVersion: rv, record: claim, valid: false });
        }
      }
      if (dirty && synced && !scheduled) {
        scheduled = true;
        schedule(() => flush());
      }
    },
  };
}
