import { describe, expect, it } from 'vitest';
import { makeKeyAndRecord } from '../sources/testing.ts';
import { SpendLedger } from '../usage/spend.ts';
import { MemoryLimiter } from './memory.ts';
import { NotSeededError, ReportedSpendLimiter } from './reported-spend.ts';
import { budgetWindow } from './windows.ts';

const T0 = Date.parse('2026-03-10T12:00:00Z');
const { record } = makeKeyAndRecord({ limitsKey: 'ns/job', budget: { credits: 100, period: 'Daily' } });
const today = budgetWindow(record.budget!, T0).id;
const yesterday = budgetWindow(record.budget!, T0 - 86_400_000).id;
const LAST = new Date(T0).toISOString();

/** A ledger that knows the test record's key id and two other key ids of the same ApiKey ('k1', 'k2'). */
const newLedger = () =>
  new SpendLedger((keyId) =>
    keyId === record.keyId || keyId === 'k1' || keyId === 'k2' ? record.limitsKey : undefined,
  );
/** Usage-report `keys` with spend through key id `keyId`. */
const spent = (keyId: string, s: { window: string; credits: number }) => ({
  [keyId]: { requests: 1, credits: s.credits, lastUsedAt: LAST, spend: s },
});

/** Admits and charges `cost` until the first denial; returns the credits admitted. */
function spendUntilDenied(l: ReportedSpendLimiter, cost: number): number {
  let admitted = 0;
  for (let i = 0; i < 1000; i++) {
    const a = l.admit(record.limitsKey, record, cost, T0);
    if (a instanceof Promise) throw new Error('memory limiter is synchronous');
    if (!a.ok) return admitted;
    void l.settle(record.limitsKey, record, a.reservation, { cost, refundRequest: false }, T0);
    admitted += cost;
  }
  throw new Error('never denied');
}

describe('ReportedSpendLimiter over the in-process limiter', () => {
  it.each([
    // [what, own previous report, peers' reports, credits admitted before the first 429]
    ['nothing reported', undefined, [], 100],
    ["own previous report in today's window", { window: today, credits: 60 }, [], 40],
    ['own previous report of yesterday does not count', { window: yesterday, credits: 60 }, [], 100],
    [
      'two peers',
      undefined,
      [
        { window: today, credits: 30 },
        { window: today, credits: 20 },
      ],
      50,
    ],
    ['own and peers together exhaust it', { window: today, credits: 50 }, [{ window: today, credits: 50 }], 0],
    ['beyond the budget already', { window: today, credits: 70 }, [{ window: today, credits: 70 }], 0],
  ] as const)('%s', (_what, own, peers, expected) => {
    const ledger = newLedger();
    ledger.seed(own ? spent(record.keyId, own) : undefined);
    ledger.setPeers(peers.map((p, i) => ({ keys: spent(i % 2 ? 'k1' : 'k2', p) })));
    const l = new ReportedSpendLimiter(new MemoryLimiter(), ledger, { shared: false, seeded: () => true });
    expect(spendUntilDenied(l, 10)).toBe(expected);
  });

  it('a denial says budget with Retry-After until the end of the day, and consumes nothing', () => {
    const ledger = newLedger();
    ledger.setPeers([{ keys: spent('k1', { window: today, credits: 100 }) }]);
    const inner = new MemoryLimiter();
    const l = new ReportedSpendLimiter(inner, ledger, { shared: false, seeded: () => true });
    const rated = { ...record, rateLimit: { requestsPerMinute: 5 } };
    expect(l.admit(rated.limitsKey, rated, 1, T0)).toEqual({ ok: false, reason: 'budget', retryAfterS: 12 * 3600 });
    expect(inner.requestsThisMinute(rated.limitsKey, T0)).toBe(0);
  });

  it("settled costs go into the ledger the report carries (own spend, the admission's window)", () => {
    const ledger = newLedger();
    ledger.seed(spent(record.keyId, { window: today, credits: 5 }));
    const l = new ReportedSpendLimiter(new MemoryLimiter(), ledger, { shared: false, seeded: () => true });
    void l.settle(
      record.limitsKey,
      record,
      { atMs: T0, amount: 256 },
      { cost: 7.9, refundRequest: false },
      T0 + 86_400_000,
    );
    expect(ledger.snapshot()).toEqual(new Map([[record.keyId, { window: today, credits: 12 }]]));
    expect(ledger.own(record.limitsKey, today)).toBe(12);
  });

  it('with a shared store, peers are not added (the store already counts them)', () => {
    const ledger = newLedger();
    ledger.setPeers([{ keys: spent('k1', { window: today, credits: 100 }) }]);
    const l = new ReportedSpendLimiter(new MemoryLimiter(), ledger, { shared: true, seeded: () => true });
    expect(spendUntilDenied(l, 10)).toBe(100);
  });

  it('fails closed for budgeted keys until the reports were read; other keys pass', () => {
    const l = new ReportedSpendLimiter(new MemoryLimiter(), newLedger(), { shared: false, seeded: () => false });
    expect(() => l.admit(record.limitsKey, record, 1, T0)).toThrow(NotSeededError);
    const { record: free } = makeKeyAndRecord({ limitsKey: 'ns/free' });
    expect(l.admit(free.limitsKey, free, 1, T0)).toMatchObject({ ok: true });
  });
});

describe('SpendLedger', () => {
  it('drops spend that `keep` refuses (record gone, window over)', () => {
    const ledger = newLedger();
    ledger.seed({ ...spent('k1', { window: today, credits: 1 }), ...spent('k2', { window: yesterday, credits: 2 }) });
    ledger.charge(record.keyId, record.limitsKey, today, 3);
    ledger.prune((id, window) => id !== 'k1' && window === today);
    expect(ledger.snapshot()).toEqual(new Map([[record.keyId, { window: today, credits: 3 }]]));
    expect(ledger.seeded(record.limitsKey, today)).toBe(0);
  });

  it('sums key ids of one ApiKey over peers per window; unknown key ids count for nothing', () => {
    const ledger = newLedger();
    ledger.setPeers([
      { keys: spent('k1', { window: today, credits: 1 }) },
      { keys: { ...spent('k2', { window: today, credits: 2 }), ...spent('gone', { window: today, credits: 50 }) } },
      { keys: spent('k1', { window: yesterday, credits: 9 }) },
      { keys: {} },
    ]);
    expect(ledger.peers(record.limitsKey, today)).toBe(3);
    expect(ledger.peers(record.limitsKey, yesterday)).toBe(9);
    ledger.charge(record.keyId, record.limitsKey, yesterday, 4);
    ledger.charge(record.keyId, record.limitsKey, today, 5);
    expect(ledger.own(record.limitsKey, today)).toBe(5);
    expect(ledger.own(record.limitsKey, yesterday)).toBe(0);
  });

  it('re-reads which ApiKey a key id belongs to when the records change, at most once a second', () => {
    let known = false;
    let now = 0;
    const ledger = new SpendLedger(
      (id) => (known && id === 'late' ? 'ns/late' : undefined),
      () => now,
    );
    now = 5000;
    ledger.setPeers([{ keys: spent('late', { window: today, credits: 7 }) }]);
    expect(ledger.peers('ns/late', today)).toBe(0);
    known = true;
    ledger.recordsChanged();
    now += 999;
    expect(ledger.peers('ns/late', today)).toBe(0); // a burst of record changes does not rebuild per request
    now += 1;
    expect(ledger.peers('ns/late', today)).toBe(7);
  });
});
