import { describe, expect, it } from 'vitest';
import { makeKeyAndRecord } from '../sources/testing.ts';
import { RecordStore } from './store.ts';

describe('RecordStore.replaceAll', () => {
  const { record } = makeKeyAndRecord();
  const revoked = { ...record, state: 'Revoked' as const };

  it.each([
    ['revoking copy listed last', [record, revoked]],
    ['revoking copy listed first', [revoked, record]],
  ])('two different records for one key id fail closed (%s)', (_name, list) => {
    const store = new RecordStore();
    store.replaceAll(list);
    expect(store.get(record.keyId)?.state).toBe('Revoked');
    expect(store.conflicts).toBe(1);
    store.replaceAll([record]);
    expect(store.get(record.keyId)).toEqual(record);
    expect(store.conflicts).toBe(0);
  });

  it('an identical duplicate is harmless', () => {
    const store = new RecordStore();
    store.replaceAll([record, { ...record }]);
    expect(store.get(record.keyId)).toEqual(record);
    expect(store.conflicts).toBe(0);
  });
});
