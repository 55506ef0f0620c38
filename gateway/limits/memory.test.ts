import { describe, expect, it } from 'vitest';
import { makeKeyAndRecord } from '../sources/testing.ts';
import { MemoryLimiter } from './memory.ts';
import { budgetWindow, minuteWindow, retryAfterSeconds } from './windows.ts';

const T0 = Date.parse('2026-03-31T23:59:30Z');

describe('windows', () => {
  it('minute windows are fixed and end on the minute', () => {
    const w = minuteWindow(T0);
    expect(w.endsMs).toBe(Date.parse('2026-04-01T00:00:00Z'));
    expect(minuteWindow(T0 + 29_999).id).toBe(w.id);
    expect(minuteWindow(T0 + 30_000).id).not.toBe(w.id);
  });

  it.each([
    ['Daily', '2026-04-01T00:00:00Z'],
    ['Monthly', '2026-04-01T00:00:00Z'],
  ] as const)('%s budget ends at the next UTC boundary', (period, end) => {
    expect(budgetWindow({ credits: 1, period }, T0).endsMs).toBe(Date.parse(end));
  });

  it('Monthly rolls over December into January', () => {
    const w = budgetWindow({ credits: 1, period: 'Monthly' }, Date.parse('2026-12-15T10:00:00Z'));
    expect(w.endsMs).toBe(Date.parse('2027-01-01T00:00:00Z'));
  });

  it('a lifetime budget never ends', () => {
    expect(budgetWindow({ credits: 1, period: 'Never' }, T0).endsMs).toBeUndefined();
    expect(budgetWindow({ credits: 1, period: 'Never' }, T0 + 1e12).id).toBe(
      budgetWindow({ credits: 1, period: 'Never' }, T0).id,
    );
  });

  it('Retry-After is whole seconds, at least 1, absent for never', () => {
    expect(retryAfterSeconds(T0 + 1500, T0)).toBe(2);
    expect(retryAfterSeconds(T0, T0)).toBe(1);
    expect(retryAfterSeconds(undefined, T0)).toBeUndefined();
  });
});

describe('MemoryLimiter', () => {
  it('requestsPerMinute admits exactly N per window, then resets', () => {
    const { record } = makeKeyAndRecord({ rateLimit: { requestsPerMinute: 3 } });
    const l = new MemoryLimiter();
    const verdicts = Array.from({ length: 5 }, () => l.admit(record.limitsKey, record, 0, T0).ok);
    expect(verdicts).toEqual([true, true, true, false, false]);
    const denied = l.admit(record.limitsKey, record, 0, T0);
    expect(denied).toEqual({ ok: false, reason: 'rate_limit', retryAfterS: 30 });
    expect(l.admit(record.limitsKey, record, 0, T0 + 30_000).ok).toBe(true);
  });

  it('tokensPerMinute admits while tokens used this minute are below the limit', () => {
    const { record } = makeKeyAndRecord({ rateLimit: { tokensPerMinute: 100 } });
    const l = new MemoryLimiter();
    expect(l.admit(record.limitsKey, record, 0, T0).ok).toBe(true);
    l.settle(record.limitsKey, record, { atMs: T0, amount: 0 }, { cost: 99, refundRequest: false }, T0);
    expect(l.admit(record.limitsKey, record, 0, T0).ok).toBe(true);
    l.settle(record.limitsKey, record, { atMs: T0, amount: 0 }, { cost: 1, refundRequest: false }, T0);
    expect(l.admit(record.limitsKey, record, 0, T0)).toMatchObject({ ok: false, reason: 'rate_limit' });
  });

  it('budget: admitted until used >= credits; the crossing request is allowed (its cost is unknown up front)', () => {
    const { record } = makeKeyAndRecord({ budget: { credits: 10, period: 'Daily' } });
    const l = new MemoryLimiter();
    expect(l.admit(record.limitsKey, record, 0, T0).ok).toBe(true);
    l.settle(record.limitsKey, record, { atMs: T0, amount: 0 }, { cost: 9, refundRequest: false }, T0);
    expect(l.admit(record.limitsKey, record, 0, T0).ok).toBe(true);
    l.settle(record.limitsKey, record, { atMs: T0, amount: 0 }, { cost: 5, refundRequest: false }, T0);
    expect(l.budgetUsed(record.limitsKey, record, T0)).toBe(14);
    expect(l.admit(record.limitsKey, record, 0, T0)).toEqual({ ok: false, reason: 'budget', retryAfterS: 30 });
    // next UTC day: a fresh budget
    expect(l.admit(record.limitsKey, record, 0, T0 + 30_000).ok).toBe(true);
  });

  it('budget windows follow the clock both ways and a changed period starts a new window', () => {
    const monthly = makeKeyAndRecord({ budget: { credits: 10, period: 'Monthly' }, limitsKey: 'ns/clock' }).record;
    const jan31 = Date.UTC(2026, 0, 31, 23, 0);
    const feb1 = Date.UTC(2026, 1, 1, 1, 0);
    const l = new MemoryLimiter();
    l.settle(monthly.limitsKey, monthly, { atMs: jan31, amount: 0 }, { cost: 10, refundRequest: false }, jan31);
    expect(l.admit(monthly.limitsKey, monthly, 0, jan31)).toMatchObject({ ok: false, reason: 'budget' });
    expect(l.admit(monthly.limitsKey, monthly, 0, feb1).ok).toBe(true); // next month: fresh
    l.settle(monthly.limitsKey, monthly, { atMs: feb1, amount: 0 }, { cost: 3, refundRequest: false }, feb1);
    expect(l.budgetUsed(monthly.limitsKey, monthly, feb1)).toBe(3);
    // a clock stepping back into January is not served February's counter (one counter per key:
    // January's was replaced, so it starts again from 0)
    expect(l.admit(monthly.limitsKey, monthly, 0, jan31 + 60_000).ok).toBe(true);
    l.settle(
      monthly.limitsKey,
      monthly,
      { atMs: jan31 + 60_000, amount: 0 },
      { cost: 10, refundRequest: false },
      jan31 + 60_000,
    );
    expect(l.budgetUsed(monthly.limitsKey, monthly, jan31 + 60_000)).toBe(10);
    expect(l.admit(monthly.limitsKey, monthly, 0, jan31 - 60_000)).toMatchObject({ ok: false, reason: 'budget' }); // earlier, same month
    // the same ApiKey switched to a daily budget inside that month: its monthly counter does not carry over
    const daily = { ...monthly, budget: { credits: 10, period: 'Daily' as const } };
    expect(l.admit(daily.limitsKey, daily, 0, jan31 + 120_000).ok).toBe(true);
    expect(l.budgetUsed(daily.limitsKey, daily, jan31 + 120_000)).toBe(0);
  });

  it('a budget denial does not consume a rate-limit slot', () => {
    const { record } = makeKeyAndRecord({
      rateLimit: { requestsPerMinute: 5 },
      budget: { credits: 1, period: 'Never' },
    });
    const l = new MemoryLimiter();
    l.settle(record.limitsKey, record, { atMs: T0, amount: 0 }, { cost: 1, refundRequest: false }, T0);
    for (let i = 0; i < 3; i++)
      expect(l.admit(record.limitsKey, record, 0, T0)).toMatchObject({ ok: false, reason: 'budget' });
    expect(l.requestsThisMinute(record.limitsKey, T0)).toBe(0);
  });

  it('predecessor and successor (different updatedAt) spend one budget', () => {
    const a = makeKeyAndRecord({
      budget: { credits: 10, period: 'Monthly' },
      limitsKey: 'ns/rotating',
      updatedAt: '2026-01-01T00:00:00Z',
    }).record;
    const b = makeKeyAndRecord({
      budget: { credits: 10, period: 'Monthly' },
      limitsKey: 'ns/rotating',
      updatedAt: '2026-03-30T00:00:00Z',
    }).record;
    const l = new MemoryLimiter();
    l.settle(a.limitsKey, a, { atMs: T0, amount: 0 }, { cost: 10, refundRequest: false }, T0);
    expect(l.admit(b.limitsKey, b, 0, T0)).toMatchObject({ ok: false, reason: 'budget' });
  });

  it('counters are per limitsKey, shared by key ids of one ApiKey', () => {
    const a = makeKeyAndRecord({ rateLimit: { requestsPerMinute: 2 }, limitsKey: 'ns/one' }).record;
    const a2 = makeKeyAndRecord({ rateLimit: { requestsPerMinute: 2 }, limitsKey: 'ns/one' }).record;
    const b = makeKeyAndRecord({ rateLimit: { requestsPerMinute: 2 }, limitsKey: 'ns/two' }).record;
    const l = new MemoryLimiter();
    expect(l.admit(a.limitsKey, a, 0, T0).ok).toBe(true);
    expect(l.admit(a2.limitsKey, a2, 0, T0).ok).toBe(true);
    expect(l.admit(a.limitsKey, a, 0, T0).ok).toBe(false);
    expect(l.admit(b.limitsKey, b, 0, T0).ok).toBe(true);
  });

  it('a key without limits is admitted without bookkeeping', () => {
    const { record } = makeKeyAndRecord();
    const l = new MemoryLimiter();
    for (let i = 0; i < 100; i++) expect(l.admit(record.limitsKey, record, 0, T0).ok).toBe(true);
    l.settle(record.limitsKey, record, { atMs: T0, amount: 0 }, { cost: 1000, refundRequest: false }, T0);
    expect(l.requestsThisMinute(record.limitsKey, T0)).toBe(0);
  });

  it('reserve, then settle: a reservation weighs on the next decision and is replaced by the real cost', () => {
    const { record } = makeKeyAndRecord({
      rateLimit: { tokensPerMinute: 1000 },
      budget: { credits: 500, period: 'Never' },
    });
    const l = new MemoryLimiter();
    const first = l.admit(record.limitsKey, record, 600, T0);
    expect(first.ok).toBe(true);
    expect(l.budgetUsed(record.limitsKey, record, T0)).toBe(600);
    // the first request is still in flight: its reservation already exhausts the budget
    expect(l.admit(record.limitsKey, record, 1, T0)).toMatchObject({ ok: false, reason: 'budget' });
    if (!first.ok) throw new Error('unreachable');
    l.settle(record.limitsKey, record, first.reservation, { cost: 40, refundRequest: false }, T0 + 1000);
    expect(l.budgetUsed(record.limitsKey, record, T0)).toBe(40);
    expect(l.admit(record.limitsKey, record, 1, T0).ok).toBe(true);
  });

  it('settling above the reservation charges the difference; a refund gives the request slot back', () => {
    const { record } = makeKeyAndRecord({
      rateLimit: { requestsPerMinute: 1 },
      budget: { credits: 100, period: 'Never' },
    });
    const l = new MemoryLimiter();
    const a = l.admit(record.limitsKey, record, 10, T0);
    if (!a.ok) throw new Error('admitted expected');
    l.settle(record.limitsKey, record, a.reservation, { cost: 70, refundRequest: false }, T0);
    expect(l.budgetUsed(record.limitsKey, record, T0)).toBe(70);
    expect(l.admit(record.limitsKey, record, 10, T0)).toMatchObject({ ok: false, reason: 'rate_limit' });
    const b = l.admit(record.limitsKey, record, 10, T0 + 60_000);
    if (!b.ok) throw new Error('admitted expected');
    l.settle(record.limitsKey, record, b.reservation, { cost: 0, refundRequest: true }, T0 + 60_000);
    expect(l.requestsThisMinute(record.limitsKey, T0 + 60_000)).toBe(0);
    expect(l.budgetUsed(record.limitsKey, record, T0)).toBe(70);
  });
});
