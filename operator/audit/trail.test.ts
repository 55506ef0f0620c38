import { describe, expect, it } from 'vitest';
import { mergeEntries, parseEntries, type TrailEntry } from './trail.ts';

const e = (id: string, time: string): TrailEntry => ({ id, time, action: 'edit', actor: 'alice' });

describe('mergeEntries', () => {
  it('is idempotent by id: a re-sent batch adds nothing', () => {
    const once = mergeEntries([], [e('a', '2026-01-01T00:00:01Z'), e('b', '2026-01-01T00:00:02Z')]);
    expect(mergeEntries(once, [e('a', '2026-01-01T00:00:01Z'), e('b', '2026-01-01T00:00:02Z')])).toEqual(once);
  });

  it('orders by time, newest last, across precisions (µs from the API server, ms from the operator)', () => {
    const got = mergeEntries([e('op', '2026-01-01T00:00:00.123Z')], [e('api', '2026-01-01T00:00:00.123456Z'), e('old', '2026-01-01T00:00:00.100000Z')]);
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
