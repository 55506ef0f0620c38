import type { KeyRecord } from '../../api/record.ts';

// The gateway's view of the key records. Sources (Kubernetes watch, directory) feed it; the request
// path reads it. A full sync builds a new Map and swaps the reference, so a request never sees a
// half-applied sync and reads need no locks.
export type RecordListener = (store: RecordStore) => void;

export class RecordStore {
  #byKeyId = new Map<string, KeyRecord>();
  #synced = false;
  #lastSyncAt: Date | undefined;
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

  get(keyId: string): KeyRecord | undefined {
    return this.#byKeyId.get(keyId);
  }

  values(): IterableIterator<KeyRecord> {
    return this.#byKeyId.values();
  }

  /**
   * A full listing: replaces everything and marks the store synced. Two different records for one key
   * id (e.g. a stale copy of a record file next to the revoking one) fail closed: the key is refused
   * as revoked until only one remains, whichever order the source listed them in.
   */
  replaceAll(records: Iterable<KeyRecord>, now = new Date()): void {
    const next = new Map<string, KeyRecord>();
    for (const r of records) {
      const seen = next.get(r.keyId);
      next.set(r.keyId, seen === undefined || JSON.stringify(seen) === JSON.stringify(r) ? r : { ...r, state: 'Revoked' });
    }
    this.#swap(next, now);
  }

  // One record changes in place: a request handler runs to completion between two changes, so it
  // cannot see half of one, and copying 10 000 entries per change would be O(n) garbage per event.
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
   * 10 000 keys would otherwise copy a 10 000-entry Map once per batch.
   */
  applyChanges(upserts: Iterable<KeyRecord>, removedKeyIds: Iterable<string>, now = new Date()): void {
    for (const keyId of removedKeyIds) this.#byKeyId.delete(keyId);
    for (const r of upserts) this.#byKeyId.set(r.keyId, r);
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
