import { describe, expect, it } from 'vitest';
import { RECORD_DATA_KEY } from '../../api/constants.ts';
import { decodeRecordSecret } from '../../api/record-secret.ts';
import type { KeyRecord } from '../../api/record.ts';
import { RecordStore } from '../records/store.ts';
import type { SourceLogger } from './log.ts';
import { createSecretIndex } from './secret-index.ts';
import { makeKeyAndRecord, recordSecretManifest } from './testing.ts';

let rv = 1;
const secretOf = (record: KeyRecord) => {
  const s = recordSecretManifest(record, 'ns');
  return { ...s, metadata: { ...s.metadata, resourceVersion: String(rv++) } };
};

function setup() {
  const store = new RecordStore();
  const swaps: number[] = [];
  store.onChange((s) => swaps.push(s.size));
  const pending: Array<() => void> = [];
  const warnings: Array<{ obj: object; msg: string }> = [];
  const logger: SourceLogger = { info() {}, error() {}, warn: (obj, msg) => void warnings.push({ obj, msg }) };
  const index = createSecretIndex(store, { logger, schedule: (fn) => void pending.push(fn) });
  const runScheduled = () => {
    for (const fn of pending.splice(0)) fn();
  };
  return { store, swaps, index, warnings, runScheduled };
}

describe('secret index', () => {
  it('keeps the store unsynced until the initial flush, then swaps once for the whole list', () => {
    const { store, swaps, index, runScheduled } = setup();
    const records = Array.from({ length: 20 }, () => makeKeyAndRecord().record);
    for (const r of records) index.onChange(secretOf(r), 'add');
    runScheduled();
    expect(store.synced).toBe(false);
    expect(store.size).toBe(0);
    index.flush(true);
    expect(store.synced).toBe(true);
    expect(swaps).toEqual([20]);
    for (const r of records) expect(store.get(r.keyId)).toEqual(r);
  });

  it('an empty namespace is a valid first sync', () => {
    const { store, index } = setup();
    index.flush(true);
    expect(store.synced).toBe(true);
    expect(store.size).toBe(0);
  });

  it('batches events after the sync into one swap, and skips re-announced unchanged versions', () => {
    const { store, swaps, index, runScheduled } = setup();
    const a = secretOf(makeKeyAndRecord().record);
    index.onChange(a, 'add');
    index.flush(true);
    const b = makeKeyAndRecord().record;
    const c = makeKeyAndRecord().record;
    index.onChange(secretOf(b), 'add');
    index.onChange(secretOf(c), 'add');
    expect(store.get(b.keyId)).toBeUndefined(); // not yet: batched
    runScheduled();
    expect(swaps).toEqual([1, 3]);
    // A relist after a restart announces everything as 'update' with the same resourceVersion.
    index.onChange(a, 'update');
    runScheduled();
    expect(swaps).toEqual([1, 3]);
    expect(store.size).toBe(3);
  });

  it('applies updates (revocation) and deletes', () => {
    const { store, index, runScheduled } = setup();
    const r = makeKeyAndRecord().record;
    index.onChange(secretOf(r), 'add');
    index.flush(true);
    index.onChange(secretOf({ ...r, state: 'Revoked' }), 'update');
    runScheduled();
    expect(store.get(r.keyId)?.state).toBe('Revoked');
    index.onChange(secretOf(r), 'delete');
    runScheduled();
    expect(store.get(r.keyId)).toBeUndefined();
    expect(store.synced).toBe(true);
  });

  it('skips an invalid record Secret, logs it once per version without its data, and drops a key whose record broke', () => {
    const { store, index, warnings, runScheduled } = setup();
    const { key, record } = makeKeyAndRecord();
    const good = secretOf(record);
    index.onChange(good, 'add');
    index.flush(true);
    expect(store.get(record.keyId)).toBeDefined();
    const broken = {
      ...good,
      metadata: { ...good.metadata, resourceVersion: String(rv++) },
      data: { [RECORD_DATA_KEY]: Buffer.from(`{"k":"${key}"`).toString('base64') },
    };
    index.onChange(broken, 'update');
    index.onChange(broken, 'update');
    runScheduled();
    expect(store.get(record.keyId)).toBeUndefined();
    expect(index.invalid).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings)).not.toContain(key.slice(8));
    expect(JSON.stringify(warnings)).not.toContain(broken.data[RECORD_DATA_KEY]);
    expect(warnings[0]?.obj).toMatchObject({ secret: good.metadata.name });
    index.onChange(broken, 'delete');
    expect(index.invalid).toBe(0);
    index.onChange(secretOf(record), 'add');
    runScheduled();
    expect(store.get(record.keyId)).toEqual(record);
  });

  it('several changes to one Secret in one batch: the last one is what the store holds', () => {
    const { store, swaps, index, runScheduled } = setup();
    const [a, b, c] = [makeKeyAndRecord().record, makeKeyAndRecord().record, makeKeyAndRecord().record];
    for (const r of [a, b, c]) index.onChange(secretOf(r), 'add');
    index.flush(true);
    index.onChange(secretOf(a), 'delete');
    index.onChange(secretOf(a), 'add'); // deleted and re-created within the batch
    index.onChange(secretOf({ ...b, state: 'Revoked' }), 'update');
    index.onChange(secretOf(b), 'delete'); // revoked, then deleted
    index.onChange(secretOf({ ...c, state: 'Revoked' }), 'update');
    runScheduled();
    expect(store.get(a.keyId)).toEqual(a);
    expect(store.get(b.keyId)).toBeUndefined();
    expect(store.get(c.keyId)?.state).toBe('Revoked');
    expect(store.size).toBe(2);
    expect(swaps).toEqual([3, 2]); // one swap for the whole batch
  });

  it('a valid record under another Secret name revokes its key id while it exists, and never grants one', () => {
    const { store, index, warnings, runScheduled } = setup();
    const { record } = makeKeyAndRecord();
    const planted = (r: KeyRecord) => {
      const s = secretOf(r);
      return { ...s, metadata: { ...s.metadata, name: 'nemokeys-key-planted' } };
    };
    index.onChange(secretOf(record), 'add');
    index.flush(true);
    index.onChange(planted({ ...record, scopes: { ...record.scopes, models: ['*'] }, team: 'other' }), 'add');
    runScheduled();
    expect(store.get(record.keyId)?.state).toBe('Revoked');
    expect(store.conflicts).toBe(1);
    expect(index.invalid).toBe(1);
    expect(warnings[0]?.msg).toMatch(/its key id is refused while it exists/);
    // The real record changing meanwhile does not lift the refusal.
    index.onChange(secretOf({ ...record, rateLimit: { requestsPerMinute: 5 } }), 'update');
    runScheduled();
    expect(store.get(record.keyId)?.state).toBe('Revoked');
    index.onChange(planted(record), 'delete');
    runScheduled();
    expect(store.get(record.keyId)).toEqual({ ...record, rateLimit: { requestsPerMinute: 5 } });
    expect(store.conflicts).toBe(0);
    expect(index.invalid).toBe(0);
    // Alone, it grants nothing.
    const other = makeKeyAndRecord().record;
    index.onChange(planted(other), 'add');
    runScheduled();
    expect(store.get(other.keyId)?.state).toBe('Revoked');
    // The real Secret deleted first: the planted claim alone still refuses the key id.
    index.onChange(planted(other), 'delete');
    index.onChange(secretOf(other), 'add');
    runScheduled();
    index.onChange(planted(other), 'add');
    index.onChange(secretOf(other), 'delete');
    runScheduled();
    expect(store.get(other.keyId)?.state).toBe('Revoked');
    expect(store.conflicts).toBe(0);
  });

  it('indexes a Secret announced without its data when given its decoded record; holds() names indexed versions', () => {
    const { store, index } = setup();
    const { record } = makeKeyAndRecord();
    const full = secretOf(record);
    const { data: _dropped, ...withoutData } = full;
    expect(index.holds(full.metadata.name, full.metadata.resourceVersion)).toBe(false);
    index.onChange(withoutData, 'add', decodeRecordSecret(full));
    index.flush(true);
    expect(store.get(record.keyId)).toEqual(record);
    expect(index.holds(full.metadata.name, full.metadata.resourceVersion)).toBe(true);
    expect(index.holds(full.metadata.name, 'another')).toBe(false);
  });
});
