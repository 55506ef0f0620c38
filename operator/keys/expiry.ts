import { expiresAtFor, type Expiration } from '../../api/expiration.ts';

// When a key id expires and which expiry reminder is due. Pure: `now` is always an argument.
//
// Team.spec.maxExpiration is enforced by CAPPING, not by refusing: a key id never lives longer than
// createdAt + maxExpiration, whatever spec.expiration says (Never included). Capping is the one rule
// that also holds for keys that already exist when a team tightens its ceiling (their records are
// re-rendered with the capped expiry); the ApiKey says so in its Ready condition and an Event.

const DAY_MS = 86_400_000;
export type ReminderKind = '7d' | '1d' | 'expired';
export const REMINDER_WINDOWS: readonly { kind: Exclude<ReminderKind, 'expired'>; beforeMs: number }[] = [
  { kind: '7d', beforeMs: 7 * DAY_MS },
  { kind: '1d', beforeMs: DAY_MS },
];

export interface KeyExpiry {
  expiresAt: Date | null;
  /** True when the team's ceiling, not spec.expiration, decided expiresAt. */
  capped: boolean;
}

export function keyExpiry(expiration: Expiration, createdAt: Date, teamMaxMs: number | undefined): KeyExpiry {
  const asked = expiresAtFor(expiration, createdAt);
  if (teamMaxMs === undefined) return { expiresAt: asked, capped: false };
  const ceiling = new Date(createdAt.getTime() + teamMaxMs);
  if (asked === null || asked.getTime() > ceiling.getTime()) return { expiresAt: ceiling, capped: true };
  return { expiresAt: asked, capped: false };
}

/**
 * The one reminder to send now, if any. A window's reminder is only sent while it is the most urgent
 * one (the 7-day reminder is skipped once the 1-day window has started) and only for keys created
 * before the window opened (a 3-day key gets no "expires in 7 days"). Already-sent kinds never repeat.
 */
export function dueReminder(
  createdAt: Date,
  expiresAt: Date | null,
  sent: readonly string[],
  now: Date,
): Exclude<ReminderKind, 'expired'> | undefined {
  if (expiresAt === null || now.getTime() >= expiresAt.getTime()) return undefined;
  let due: Exclude<ReminderKind, 'expired'> | undefined;
  for (const w of REMINDER_WINDOWS) {
    const opens = expiresAt.getTime() - w.beforeMs;
    if (now.getTime() >= opens && createdAt.getTime() < opens) due = w.kind; // later windows are more urgent
  }
  return due !== undefined && !sent.includes(due) ? due : undefined;
}

/** The next instant after `now` at which a reminder window opens or the key expires (for requeue-after). */
export function nextExpiryWake(expiresAt: Date | null, now: Date): number | undefined {
  if (expiresAt === null) return undefined;
  const instants = [...REMINDER_WINDOWS.map((w) => expiresAt.getTime() - w.beforeMs), expiresAt.getTime()];
  return instants.filter((t) => t > now.getTime()).sort((a, b) => a - b)[0];
}

export function describeRemaining(expiresAt: Date, now: Date): string {
  const ms = expiresAt.getTime() - now.getTime();
  if (ms >= DAY_MS) return `in ${Math.floor(ms / DAY_MS)} day(s)`;
  const hours = Math.floor(ms / 3_600_000);
  return hours >= 1 ? `in ${hours} hour(s)` : `in ${Math.max(1, Math.ceil(ms / 60_000))} minute(s)`;
}
