import type { KeyRecord } from '../../api/record.ts';
import { admitted, unlimited, type Admission, type Limiter, type Outcome, type Reservation } from './limiter.ts';
import { budgetWindow, minuteWindow, retryAfterSeconds } from './windows.ts';

// Per-process counters (the default: one gateway replica, or replicas that each enforce their own
// share). Synchronous, no I/O. Memory is one entry per ApiKey with limits; entries of ended windows
// are swept now and then, so keys that stop being used do not accumulate.

interface RateCounter {
  window: string;
  requests: number;
  tokens: number;
}
interface BudgetCounter {
  window: string;
  /** The period the window was computed for: a record whose period changed needs a new window. */
  period: string;
  /** The counter's window covers [sinceMs, endsMs): a clock in there needs no window arithmetic. */
  sinceMs: number;
  endsMs: number | undefined;
  used: number;
}

const SWEEP_EVERY = 10_000;

export class MemoryLimiter implements Limiter {
  #rate = new Map<string, RateCounter>();
  #budget = new Map<string, BudgetCounter>();
  #calls = 0;

  admit(limitsKey: string, record: KeyRecord, estimate: number, nowMs: number): Admission {
    const amount = Math.max(0, Math.ceil(estimate));
    if (unlimited(record)) return admitted(nowMs, amount);
    if (++this.#calls % SWEEP_EVERY === 0) this.#sweep(nowMs);
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = record.rateLimit ?? {};
    let rate: RateCounter | undefined;
    if (rpm !== undefined || tpm !== undefined) {
      const minute = minuteWindow(nowMs);
      rate = this.#rateCounter(limitsKey, minute.id);
      if ((rpm !== undefined && rate.requests >= rpm) || (tpm !== undefined && rate.tokens >= tpm)) {
        return { ok: false, reason: 'rate_limit', retryAfterS: retryAfterSeconds(minute.endsMs, nowMs) };
      }
    }
    let budget: BudgetCounter | undefined;
    if (record.budget !== undefined) {
      budget = this.#budgetCounter(limitsKey, record.budget, nowMs);
      if (budget.used >= record.budget.credits) {
        return { ok: false, reason: 'budget', retryAfterS: retryAfterSeconds(budget.endsMs, nowMs) };
      }
    }
    if (rate !== undefined) {
      rate.requests += 1;
      if (tpm !== undefined) rate.tokens += amount;
    }
    if (budget !== undefined) budget.used += amount;
    return admitted(nowMs, amount);
  }

  settle(limitsKey: string, record: KeyRecord, reservation: Reservation, outcome: Outcome, _nowMs: number): void {
    if (unlimited(record)) return;
    const delta = Math.max(0, Math.ceil(outcome.cost)) - reservation.amount;
    // only the windows the reservation was made in: a window that ended no longer decides anything
    const minute = minuteWindow(reservation.atMs).id;
    const current = this.#rate.get(limitsKey);
    if (record.rateLimit !== undefined && (current === undefined || current.window === minute)) {
      const rate = this.#rateCounter(limitsKey, minute);
      if (outcome.refundRequest && rate.requests > 0) rate.requests -= 1;
      if (record.rateLimit.tokensPerMinute !== undefined) rate.tokens = Math.max(0, rate.tokens + delta);
    }
    if (record.budget !== undefined && delta !== 0) {
      const held = this.#budget.get(limitsKey);
      if (held === undefined || held.window === budgetWindow(record.budget, reservation.atMs).id) {
        const budget = this.#budgetCounter(limitsKey, record.budget, reservation.atMs);
        budget.used = Math.max(0, budget.used + delta);
      }
    }
  }

  /** Credits used in the current budget period (for tests and debugging). */
  budgetUsed(limitsKey: string, record: KeyRecord, nowMs: number): number {
    if (record.budget === undefined) return 0;
    const c = this.#budget.get(limitsKey);
    return c !== undefined && c.window === budgetWindow(record.budget, nowMs).id ? c.used : 0;
  }

  /** Requests counted in the current minute (for tests and debugging). */
  requestsThisMinute(limitsKey: string, nowMs: number): number {
    const c = this.#rate.get(limitsKey);
    return c !== undefined && c.window === minuteWindow(nowMs).id ? c.requests : 0;
  }

  #rateCounter(limitsKey: string, window: string): RateCounter {
    let c = this.#rate.get(limitsKey);
    if (c === undefined || c.window !== window) {
      c = { window, requests: 0, tokens: 0 };
      this.#rate.set(limitsKey, c);
    }
    return c;
  }

  #budgetCounter(limitsKey: string, budget: NonNullable<KeyRecord['budget']>, nowMs: number): BudgetCounter {
    let c = this.#budget.get(limitsKey);
    // windows are contiguous, so a time between the counter's first use and its window's end lies in
    // the same window (a monthly window costs a Date per call otherwise, twice per request)
    if (
      c !== undefined &&
      c.period === budget.period &&
      c.sinceMs <= nowMs &&
      (c.endsMs === undefined || nowMs < c.endsMs)
    )
      return c;
    const w = budgetWindow(budget, nowMs);
    if (c === undefined || c.window !== w.id) {
      c = { window: w.id, period: budget.period, sinceMs: nowMs, endsMs: w.endsMs, used: 0 };
      this.#budget.set(limitsKey, c);
    } else if (nowMs < c.sinceMs) {
      c.sinceMs = nowMs; // an earlier time in the same window (equal ids imply equal periods)
    }
    return c;
  }

  #sweep(nowMs: number): void {
    const minute = minuteWindow(nowMs).id;
    for (const [k, c] of this.#rate) if (c.window !== minute) this.#rate.delete(k);
    for (const [k, c] of this.#budget) if (c.endsMs !== undefined && c.endsMs <= nowMs) this.#budget.delete(k);
  }
}
