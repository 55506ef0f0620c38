import { describe, expect, it } from 'vitest';
import { decide, microTime, nextRecord, observe, releasedRecord, type LeaseRecord } from './lease-record.ts';

const rec = (holder: string, over: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: 1000,
  renewTime: 5000,
  leaseTransitions: 2,
  ...over,
});

describe('decide', () => {
  it.each([
    { name: 'we hold it', record: rec('me'), seenAt: 0, now: 100_000, want: 'renew' },
    { name: 'released (empty holder)', record: rec(''), seenAt: 0, now: 0, want: 'acquire' },
    { name: 'other holder, fresh', record: rec('other'), seenAt: 10_000, now: 24_999, want: 'held-by-other' },
    {
      name: 'other holder, unchanged for a lease duration',
      record: rec('other'),
      seenAt: 10_000,
      now: 25_000,
      want: 'acquire',
    },
    {
      name: 'their renewTime is ignored: our observation counts',
      record: rec('other', { renewTime: 0 }),
      seenAt: 50_000,
      now: 51_000,
      want: 'held-by-other',
    },
  ])('$name → $want', ({ record, seenAt, now, want }) => {
    const obs = observe(undefined, record, seenAt);
    expect(decide(record, obs, 'me', now)).toBe(want);
  });

  it('a renewal resets the observation; an unchanged record keeps the first sighting', () => {
    const first = observe(undefined, rec('other'), 1000);
    expect(observe(first, rec('other'), 9000)).toBe(first);
    expect(observe(first, rec('other', { renewTime: 7000 }), 9000).at).toBe(9000);
  });
});

describe('nextRecord / releasedRecord', () => {
  it.each([
    { name: 'first leader', current: undefined, want: { acquireTime: 42_000, leaseTransitions: 0 } },
    {
      name: 'renewal keeps acquireTime and transitions',
      current: rec('me'),
      want: { acquireTime: 1000, leaseTransitions: 2 },
    },
    { name: 'takeover counts a transition', current: rec('other'), want: { acquireTime: 42_000, leaseTransitions: 3 } },
  ])('$name', ({ current, want }) => {
    expect(nextRecord(current, 'me', 42_000, 15_000)).toEqual({
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      renewTime: 42_000,
      ...want,
    });
  });

  it('release empties the holder', () => {
    expect(releasedRecord(rec('me'), 9000)).toMatchObject({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      renewTime: 9000,
    });
  });

  it('formats MicroTime with six fractional digits', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });
});
