import type { KeyRecord } from '../../api/record.ts';

// Rate limits and budgets (docs/design.md §4 steps 6-7). Counters are keyed by record.limitsKey, shared by
// every key id of one ApiKey, so a rotation does not hand out a fresh allowance.
//
// admit() decides and, only when it allows, counts the request against requestsPerMinute (atomically:
// two concurrent admits never both take the last slot). Tokens and credits are only known once the
// upstream answered, so charge() adds them afterwards; a request is admitted while the tokens already
// used this minute are below tokensPerMinute and the credits used this period below the budget.
export type Admission =
  | { ok: true }
  | { ok: false; reason: 'rate_limit' | 'budget'; /** whole seconds; undefined when waiting will not help */ retryAfterS: number | undefined };

export interface Limiter {
  admit(limitsKey: string, record: KeyRecord, nowMs: number): Admission | Promise<Admission>;
  charge(limitsKey: string, record: KeyRecord, cost: number, nowMs: number): void | Promise<void>;
  close?(): Promise<void>;
}

export const ADMITTED: Admission = Object.freeze({ ok: true });

/** True when the record has nothing to enforce: admit/charge can skip all bookkeeping. */
export function unlimited(record: KeyRecord): boolean {
  return record.rateLimit?.requestsPerMinute === undefined && record.rateLimit?.tokensPerMinute === undefined && record.budget === undefined;
}
