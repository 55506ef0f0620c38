import { describe, expect, it } from 'vitest';
import { dueReminder, keyExpiry, nextExpiryWake } from './expiry.ts';

const DAY = 86_400_000;
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('keyExpiry (team maxExpiration caps)', () => {
  it.each([
    { name: 'never, no ceiling', exp: { kind: 'never' as const }, max: undefined, at: null, capped: false },
    { name: 'never, 90d ceiling', exp: { kind: 'never' as const }, max: 90 * DAY, at: 90 * DAY, capped: true },
    {
      name: '30d under a 90d ceiling',
      exp: { kind: 'duration' as const, ms: 30 * DAY },
      max: 90 * DAY,
      at: 30 * DAY,
      capped: false,
    },
    {
      name: 'datetime past the ceiling',
      exp: { kind: 'datetime' as const, at: at(400 * DAY) },
      max: 90 * DAY,
      at: 90 * DAY,
      capped: true,
    },
  ])('$name', (row) => {
    const r = keyExpiry(row.exp, T0, row.max);
    expect([r.expiresAt?.getTime() ?? null, r.capped]).toEqual([
      row.at === null ? null : T0.getTime() + row.at,
      row.capped,
    ]);
  });
});

describe('dueReminder', () => {
  const exp = at(30 * DAY);
  it.each([
    { now: 22 * DAY, sent: [], due: undefined },
    { now: 23 * DAY, sent: [], due: '7d' },
    { now: 23 * DAY, sent: ['7d'], due: undefined },
    { now: 29 * DAY, sent: ['7d'], due: '1d' },
    { now: 29 * DAY, sent: [], due: '1d' }, // 7d window missed: only the more urgent one
    { now: 29 * DAY, sent: ['7d', '1d'], due: undefined },
    { now: 30 * DAY, sent: [], due: undefined }, // expiry itself is the Expired transition's reminder
  ])('at +$now ms with $sent sent → $due', (row) => {
    expect(dueReminder(T0, exp, row.sent, at(row.now))).toBe(row.due);
  });
  it('a key created inside a window gets no reminder for it', () => {
    expect(dueReminder(at(25 * DAY), exp, [], at(25 * DAY + 1))).toBeUndefined();
  });
  it('nextExpiryWake walks 7d → 1d → expiry', () => {
    expect([0, 23 * DAY, 29 * DAY, 30 * DAY].map((t) => nextExpiryWake(exp, at(t)))).toEqual([
      at(23 * DAY).getTime(),
      at(29 * DAY).getTime(),
      exp.getTime(),
      undefined,
    ]);
  });
});
