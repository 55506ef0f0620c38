import { describe, expect, it } from 'vitest';
import { fillIssuedKeyId, keyIssuedFor, mergeEntries, parseEntries, type TrailEntry } from './trail.ts';

const e = (id: string, time: string): TrailEntry => ({ id, time, action: 'edit', actor: 'alice' });

describe('mergeEntries', () => {
  it('is idempotent by id: a re-sent batch adds nothing', () => {
    const once = mergeEntries([], [e('a', '2026-01-01T00:00:01Z'), e('b', '2026-01-01T00:00:02Z')]);
    expect(mergeEntries(once, [e('a', '2026-01-01T00:00:01Z'), e('b', '2026-01-01T00:00:02Z')])).toEqual(once);
  });

  it('orders by time, newest last, across precisions (µs from the API server, ms from the operator)', () => {
    const got = mergeEntries(
      [e('op', '2026-01-01T00:00:00.123Z')],
      [e('api', '2026-01-01T00:00:00.123456Z'), e('old', '2026-01-01T00:00:00.100000Z')],
    );
    expect(got.map((x) => x.id)).toEqual(['old', 'op', 'api']);
  });

  it('is bounded and keeps the most recent entries, also when an old entry arrives late', () => {
    const existing = Array.from({ length: 5 }, (_, i) => e(`n${i}`, `2026-01-01T00:00:0${i + 1}Z`));
    const got = mergeEntries(existing, [e('late', '2026-01-01T00:00:00Z'), e('new', '2026-01-01T00:00:09Z')], 5);
    expect(got.map((x) => x.id)).toEqual(['n1', 'n2', 'n3', 'n4', 'new']);
  });
});

describe('parseEntries', () => {
  it('reads what it wrote; a corrupt value is an error, not a crash', () => {
    expect(parseEntries(JSON.stringify([e('a', '2026-01-01T00:00:00Z')])).entries).toHaveLength(1);
    expect(parseEntries(undefined)).toEqual({ entries: [] });
    expect(parseEntries('{nope').error).toBeTruthy();
    expect(parseEntries('[{"id":1}]').error).toBeTruthy();
  });
});

describe('fillIssuedKeyId', () => {
  const e = (id: string, action: TrailEntry['action'], keyId?: string, more: Partial<TrailEntry> = {}): TrailEntry => ({
    id,
    time: '2026-11-27T21:00:00Z',
    action,
    actor: 'alice',
    ...(keyId ? { keyId } : {}),
    ...more,
  });
  it.each<[string, TrailEntry[], Parameters<typeof fillIssuedKeyId>[1], TrailEntry | undefined]>([
    [
      'a create without key id gets the issued one',
      [e('c', 'create')],
      { action: 'create', keyId: 'K1' },
      e('c', 'create', 'K1'),
    ],
    [
      'a rotate naming the predecessor names the successor',
      [e('c', 'create', 'K1'), e('r', 'rotate', 'K1')],
      { action: 'rotate', keyId: 'K2', predecessor: 'K1' },
      e('r', 'rotate', 'K2', { predecessorKeyId: 'K1' }),
    ],
    [
      'already filled: nothing (exactly once)',
      [e('r', 'rotate', 'K2', { predecessorKeyId: 'K1' })],
      { action: 'rotate', keyId: 'K2', predecessor: 'K1' },
      undefined,
    ],
    [
      'a rotate of another predecessor: nothing',
      [e('r', 'rotate', 'K9')],
      { action: 'rotate', keyId: 'K2', predecessor: 'K1' },
      undefined,
    ],
    [
      'a later reissue does not relabel a filled create',
      [e('c', 'create', 'K1')],
      { action: 'create', keyId: 'K3' },
      undefined,
    ],
    ['no entry yet (audit event still on its way): nothing', [], { action: 'create', keyId: 'K1' }, undefined],
  ])('%s', (_name, entries, issued, want) => expect(fillIssuedKeyId(entries, issued)).toEqual(want));
});

describe('keyIssuedFor', () => {
  const keys = [
    { id: 'K1', createdAt: '2026-11-27T21:00:00Z' },
    { id: 'K2', createdAt: '2026-11-27T21:05:07Z' },
    { id: 'K3', createdAt: '2026-11-27T21:09:00Z' },
  ];
  it.each<[string, string, string | undefined, string | undefined]>([
    ['the first key issued after the change, even when a later one is current', '2026-11-27T21:05:06.9Z', 'K1', 'K2'],
    ['createdAt has whole seconds: a key of the same second counts', '2026-11-27T21:05:07.123456Z', 'K1', 'K2'],
    ['never the predecessor', '2026-11-27T20:59:00Z', 'K1', 'K2'],
    ['not issued yet', '2026-11-27T21:10:00Z', 'K3', undefined],
  ])('%s', (_name, time, predecessor, want) => expect(keyIssuedFor(keys, time, predecessor)).toBe(want));
});
