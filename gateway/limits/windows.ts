import type { KeyRecord } from '../../api/record.ts';

// Window arithmetic shared by the in-process and Redis limiters, so both count in the same buckets.
// Rate limits use fixed one-minute windows (exact, and cheap to share through Redis). Budgets use the
// record's period in UTC. record.updatedAt is deliberately NOT part of a budget window: the operator
// moves it on any record change, and the key ids of one ApiKey (predecessor and successor during a
// rotation) carry different values, so keying on it would reset or split the one budget they share.

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export interface Window {
  /** Stable id of the bucket; equal ids share a counter. */
  id: string;
  /** When the bucket stops counting (ms since epoch), or undefined for never. */
  endsMs: number | undefined;
}

export function minuteWindow(nowMs: number): Window {
  const n = Math.floor(nowMs / MINUTE_MS);
  return { id: String(n), endsMs: (n + 1) * MINUTE_MS };
}

export function budgetWindow(budget: NonNullable<KeyRecord['budget']>, nowMs: number): Window {
  switch (budget.period) {
    case 'Daily': {
      const day = Math.floor(nowMs / DAY_MS);
      return { id: `d${day}`, endsMs: (day + 1) * DAY_MS };
    }
    case 'Monthly': {
      const d = new Date(nowMs);
      const y = d.getUTCFullYear();
      const m = d.getUTCMonth();
      return { id: `m${y * 12 + m}`, endsMs: Date.UTC(y, m + 1, 1) };
    }
    case 'Never':
      return { id: 'n', endsMs: undefined };
  }
}

/** Seconds until a window ends, at least 1 (Retry-After: 0 invites a busy loop). */
export function retryAfterSeconds(endsMs: number | undefined, nowMs: number): number | undefined {
  if (endsMs === undefined) return undefined;
  return Math.max(1, Math.ceil((endsMs - nowMs) / 1000));
}
