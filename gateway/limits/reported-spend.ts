import type { KeyRecord } from '../../api/record.ts';
import type { SpendLedger } from '../usage/spend.ts';
import type { Admission, Limiter, Outcome, Reservation } from './limiter.ts';
import { budgetWindow, retryAfterSeconds } from './windows.ts';

// Budgets that hold across restarts and replicas (docs/design.md §4), as a layer over any Limiter:
// - every settled cost of a budgeted ApiKey also goes into the spend ledger the usage report carries;
// - with a per-process store (`shared: false`), the budget handed to the inner limiter is reduced by
//   what it cannot know: this identity's spend before the process started and the other replicas'
//   reported spend. Budgets are then global up to what replicas did since their last report.
// - with a shared store (Redis) the inner counters are already global; the ledger only seeds a store
//   that came back empty (RedisLimiter's `baseline`), so nothing is added here.
// Until the reports were read once, budgeted requests fail closed (503): admitting them against a
// forgotten spend is exactly what this layer is for. Requests without a budget are never held up.

export class NotSeededError extends Error {
  constructor() {
    super('usage reports not read yet: budgets cannot be enforced');
  }
}

export interface ReportedSpendOptions {
  /** The inner store is shared by every replica and survives restarts of the gateway (Redis). */
  shared: boolean;
  /** True once this identity's previous report and the peers' reports were read. */
  seeded: () => boolean;
}

export class ReportedSpendLimiter implements Limiter {
  readonly #inner: Limiter;
  readonly #ledger: SpendLedger;
  readonly #opts: ReportedSpendOptions;

  constructor(inner: Limiter, ledger: SpendLedger, opts: ReportedSpendOptions) {
    this.#inner = inner;
    this.#ledger = ledger;
    this.#opts = opts;
  }

  admit(limitsKey: string, record: KeyRecord, estimate: number, nowMs: number): Admission | Promise<Admission> {
    const budget = record.budget;
    if (budget === undefined) return this.#inner.admit(limitsKey, record, estimate, nowMs);
    if (!this.#opts.seeded()) throw new NotSeededError();
    if (this.#opts.shared) return this.#inner.admit(limitsKey, record, estimate, nowMs);
    const window = budgetWindow(budget, nowMs);
    const elsewhere = this.#ledger.seeded(limitsKey, window.id) + this.#ledger.peers(limitsKey, window.id);
    if (elsewhere === 0) return this.#inner.admit(limitsKey, record, estimate, nowMs);
    if (elsewhere >= budget.credits)
      return { ok: false, reason: 'budget', retryAfterS: retryAfterSeconds(window.endsMs, nowMs) };
    return this.#inner.admit(
      limitsKey,
      { ...record, budget: { ...budget, credits: budget.credits - elsewhere } },
      estimate,
      nowMs,
    );
  }

  settle(
    limitsKey: string,
    record: KeyRecord,
    reservation: Reservation,
    outcome: Outcome,
    nowMs: number,
  ): void | Promise<void> {
    // spend lands in the window the request was admitted in, like the limiters' own settle
    if (record.budget !== undefined)
      this.#ledger.charge(record.keyId, limitsKey, budgetWindow(record.budget, reservation.atMs).id, outcome.cost);
    return this.#inner.settle(limitsKey, record, reservation, outcome, nowMs);
  }

  async close(): Promise<void> {
    await this.#inner.close?.();
  }
}
