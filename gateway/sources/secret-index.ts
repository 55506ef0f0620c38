import type { ChangeKind } from '../../kube/cache-types.ts';
import type { KeyRecord } from '../../api/record.ts';
import type { RecordStore } from '../records/store.ts';
import { decodeRecordSecret, type RecordSecret } from '../../api/record-secret.ts';
import { silentLogger, type SourceLogger } from './log.ts';

// Turns informer events on record Secrets into RecordStore swaps. Events are batched: the informer
// announces every object at once on a list (10k adds at start, 10k updates after a restart), and one
// store swap per event would copy the whole index each time. Decoding is skipped when a Secret's
// resourceVersion did not change (a relist re-announces everything), and the store is not touched
// when a batch changed nothing. A Secret that does not hold a valid record is logged once per version
// and left out — if it used to be valid, its key id disappears (fail closed: 401, never stale access).

type Entry = { resourceVersion: string | undefined; record: KeyRecord | undefined };

export interface SecretIndex {
  /** The informer handler: records the change; the store is updated on the next flush. */
  onChange(secret: RecordSecret, change: ChangeKind): void;
  /**
   * Applies pending changes to the store (one swap). `confirmed` means a full list was just applied:
   * swap even without changes, so the store is marked synced and its lastSyncAt moves.
   */
  flush(confirmed?: boolean): void;
  /** Record Secrets currently skipped because they do not hold a valid record. */
  readonly invalid: number;
}

export function createSecretIndex(store: RecordStore, opts: { logger?: SourceLogger; schedule?: (fn: () => void) => void } = {}): SecretIndex {
  const logger = opts.logger ?? silentLogger;
  const schedule = opts.schedule ?? ((fn) => setImmediate(fn));
  const byName = new Map<string, Entry>();
  let dirty = false;
  let scheduled = false;
  let synced = false;
  let invalid = 0;

  /** Secret name → the record the store had for it before this batch (first change wins). */
  const touched = new Map<string, KeyRecord | undefined>();
  const touch = (name: string, before: KeyRecord | undefined) => {
    if (!touched.has(name)) touched.set(name, before);
  };

  const set = (name: string, next: Entry) => {
    const prev = byName.get(name);
    if (prev && !prev.record) invalid--;
    if (!next.record) invalid++;
    byName.set(name, next);
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
    // Watch events: only what changed since the last flush, in place.
    const upserts: KeyRecord[] = [];
    const removed: string[] = [];
    for (const [name, before] of touched) {
      const now = byName.get(name)?.record;
      if (before && before.keyId !== now?.keyId) removed.push(before.keyId);
      if (now) upserts.push(now);
    }
    touched.clear();
    store.applyChanges(upserts, removed);
  };

  return {
    get invalid() {
      return invalid;
    },
    flush,
    onChange(secret, change) {
      const name = secret.metadata?.name ?? '';
      if (change === 'delete') {
        const prev = byName.get(name);
        if (prev) {
          byName.delete(name);
          if (prev.record) {
            dirty = true;
            touch(name, prev.record);
          } else invalid--;
        }
      } else {
        const rv = secret.metadata?.resourceVersion;
        const prev = byName.get(name);
        if (prev && rv !== undefined && prev.resourceVersion === rv) return;
        const decoded = decodeRecordSecret(secret);
        if (!decoded.ok) {
          logger.warn({ secret: name, resourceVersion: rv, error: decoded.error }, 'skipping an invalid key record Secret');
        }
        set(name, { resourceVersion: rv, record: decoded.ok ? decoded.record : undefined });
      }
      if (dirty && synced && !scheduled) {
        scheduled = true;
        schedule(() => flush());
      }
    },
  };
}
