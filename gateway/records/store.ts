import { sameJson, type KeyRecord } from '../../api/record.ts';

// The gateway's view of the key records. Sources (Kubernetes watch, directory) feed it; the request
// path reads it. A full sync builds a new Map and swaps the reference, so a request never sees a
// half-applied sync and reads need no locks.
export type RecordListener = (store: RecordStore) => void;

export class RecordStore {
  #byKeyId = new Map<string, KeyRecord>();
  #synced = false;
  #lastSyncAt: Date | undefined;
  /** Key ids whose sources hold different records (refused as Revoked). */
  #conflicting = new Set<string>();
  #listeners = new Set<RecordListener>();

  /** Fail closed: the gateway answers 503 until the first full sync. */
  get synced(): boolean {
    return this.#synced;
  }
  get lastSyncAt(): Date | undefined {
    return this.#lastSyncAt;
  }
  get size(): number {
    return this.#byKeyId.size;
  }

  /** Key ids refused because sources hold different records for them (docs/design.md §4, a metric). */
  get conflicts(): number {
    return this.#conflicting.size;
  }

  get(keyId: string): KeyRecord | undefined {
    return this.#byKeyId.get(keyId);
  }

  values(): IterableIterator<KeyRecord> {
    return this.#byKeyId.values();
  }

  /**
   * A full listing: replaces everything and marks the store synced. Two different records for one key
   * id (e.g. a stale copy of a record file next to the revoking one) fail closed: the key is refused
   * as revoked until only one remains, whichever order the source listed them in. Sources therefore pass
   * every record on and never pick one (docs/design.md §4).
   */
  replaceAll(records: Iterable<KeyRecord>, now = new Date()): void {
    const { byKeyId, conflicting } = mergeByKeyId(records);
    this.#conflicting = conflicting;
    this.#swap(byKeyId, now);
  }

  // One record changes in place: a request handler runs to completion between two changes, so it
  // cannot see half of one, and copying 10 000 entries per change would be O(n) garbage per event.
  // upsert and remove address a key id, not a source's object: a source that can hold several records
  // for one key id uses replaceAll or applyChanges, which see all of them, never picks one.
  upsert(record: KeyRecord, now = new Date()): void {
    this.#byKeyId.set(record.keyId, record);
    this.#swap(this.#byKeyId, now, this.#synced);
  }

  remove(keyId: string, now = new Date()): void {
    if (!this.#byKeyId.has(keyId)) return;
    this.#byKeyId.delete(keyId);
    this.#swap(this.#byKeyId, now, this.#synced);
  }

  /**
   * A batch of watch events in place, one change notification: O(batch), not O(records) — issuing
   * 10 000 keys would otherwise copy a 10 000-entry Map once per batch. For every key id in `upserts`,
   * `upserts` holds every record the source has for it (merged as replaceAll does).
   */
  applyChanges(upserts: Iterable<KeyRecord>, removedKeyIds: Iterable<string>, now = new Date()): void {
    for (const keyId of removedKeyIds) {
      this.#byKeyId.delete(keyId);
      this.#conflicting.delete(keyId);
    }
    const { byKeyId, conflicting } = mergeByKeyId(upserts);
    for (const [keyId, r] of byKeyId) {
      this.#byKeyId.set(keyId, r);
      if (conflicting.has(keyId)) this.#conflicting.add(keyId);
      else this.#conflicting.delete(keyId);
    }
    this.#swap(this.#byKeyId, now, this.#synced);
  }

  onChange(listener: RecordListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #swap(next: Map<string, KeyRecord>, now: Date, synced = true): void {
    this.#byKeyId = next;
    this.#synced = synced;
    if (synced) this.#lastSyncAt = now;
    for (const l of this.#listeners) l(this);
  }
}

/** Two records claiming one key id: the same record is harmless; different ones fail closed as Revoked. */
export function mergeClaims(a: KeyRecord, b: KeyRecord): KeyRecord {
  return sameJson(a, b) ? b : { ...b, state: 'Revoked' };
}

function mergeByKeyId(records: Iterable<KeyRecord>): { byKeyId: Map<string, KeyRecord>; conflicting: Set<string> } {
  const byKeyId = new Map<string, KeyRecord>();
  const conflicting = new Set<string>();
  for (const r of records) {
    const seen = byKeyId.get(r.keyId);
    const merged = seen === undefined ? r : mergeClaims(seen, r);
    if (merged !== r) conflicting.add(r.keyId);
    byKeyId.set(r.keyId, merged);
  }
  return { byKeyId, conflicting };
}
