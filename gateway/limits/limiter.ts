import type { KeyRecord } from '../../api/record.ts';

// Rate limits and budgets (docs/design.md §4 steps 6-7). Counters are keyed by record.limitsKey, shared by
// every key id of one ApiKey, so a rotation does not hand out a fresh allowance.
//
// Reserve, then settle. admit() decides and, only when it allows, atomically counts the request
// against requestsPerMinute and RESERVES `estimate` tokens/credits (tokensPerMinute and the budget):
// two concurrent admits never both take the last slot, and a request in flight already weighs on the
// next decision. The real cost is only known once the router answered; settle() then replaces the
// reservation with it (up or down), in the windows the reservation was made in. A request is admitted
// while the tokens used or reserved this minute are below tokensPerMinute and the credits used or
// reserved this period are below the budget. A denied request reserves nothing.

export interface Reservation {
  /** When the request was admitted: the reservation lives in that instant's windows. */
  readonly atMs: number;
  /** Tokens/credits reserved on admission, replaced by the real cost on settle. */
  readonly amount: number;
}

export type Admission =
  | { ok: true; reservation: Reservation }
  | {
      ok: false;
      reason: 'rate_limit' | 'budget';
      /** whole seconds; undefined when waiting will not help */
      retryAfterS: number | undefined;
    };

export interface Outcome {
  /** What the request really cost (the router's reported tokens, or the reservation when it reported none). */
  cost: number;
  /** The gateway itself failed (the router never answered): the request gives its rate-limit slot back. */
  refundRequest: boolean;
}

export interface Limiter {
  admit(limitsKey: string, record: KeyRecord, estimate: number, nowMs: number): Admission | Promise<Admission>;
  settle(
    limitsKey: string,
    record: KeyRecord,
    reservation: Reservation,
    outcome: Outcome,
    nowMs: number,
  ): void | Promise<void>;
  close?(): Promise<void>;
}

export function admitted(atMs: number, amount: number): Admission {
  return { ok: true, reservation: { atMs, amount } };
}

/** True when the record has nothing to enforce: admit/settle can skip all bookkeeping. */
export function unlimited(record: KeyRecord): boolean {
  return (
    record.rateLimit?.requestsPerMinute === undefined &&
    record.rateLimit?.tokensPerMinute === undefined &&
    record.budget === undefined
  );
}
