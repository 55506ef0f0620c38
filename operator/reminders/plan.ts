// Which expiry reminder emails are due (docs/design.md §8). Pure: `now` is an argument.
//
// Per key id: one mail when the 7-day window opens, one when the 1-day window opens, one at expiry —
// each at most once (the "mailed" marks persist on the ApiKey). A key created inside a window gets
// that window's mail once; a window that was overtaken by a more urgent one (operator down for days)
// is not sent late. Marks are kept only for key ids still in status.keys (bounded). Like the expiry
// alerts, a Superseded predecessor's expiry is the hand-off at work, not news: only Active / Expired.
import { REMINDER_WINDOWS } from '../keys/expiry.ts';

export type MailKind = '7d' | '1d' | 'expired';
export const MAIL_KINDS: readonly MailKind[] = ['7d', '1d', 'expired'];
/** An at-expiry mail later than this (operator down for a week) is no longer news: skip it. */
export const STALE_AFTER_MS = 7 * 86_400_000;

export interface KeyView {
  id: string;
  state?: string;
  expiresAt?: string;
}

export type Marks = Record<string, MailKind[]>;

export interface DueMail {
  keyId: string;
  kind: MailKind;
  expiresAt: Date;
}

export function dueMails(keys: readonly KeyView[], marks: Marks, now: Date): DueMail[] {
  const due: DueMail[] = [];
  for (const k of keys) {
    if (!k.expiresAt || k.state === 'Revoked' || k.state === 'Superseded') continue;
    const expiresAt = new Date(k.expiresAt);
    if (Number.isNaN(expiresAt.getTime())) continue;
    const kind = dueKind(expiresAt, now);
    if (kind && !(marks[k.id] ?? []).includes(kind)) due.push({ keyId: k.id, kind, expiresAt });
  }
  return due;
}

/** The most urgent kind whose moment has come: expired, else the latest open window. */
function dueKind(expiresAt: Date, now: Date): MailKind | undefined {
  const t = now.getTime();
  const exp = expiresAt.getTime();
  if (t >= exp) return t - exp < STALE_AFTER_MS ? 'expired' : undefined;
  let kind: MailKind | undefined;
  for (const w of REMINDER_WINDOWS) if (t >= exp - w.beforeMs) kind = w.kind;
  return kind;
}

/** When the next mail may become due (for requeue-after), or undefined. */
export function nextMailAt(keys: readonly KeyView[], now: Date): Date | undefined {
  const instants: number[] = [];
  for (const k of keys) {
    if (!k.expiresAt || k.state === 'Revoked' || k.state === 'Superseded') continue;
    const exp = Date.parse(k.expiresAt);
    if (Number.isNaN(exp)) continue;
    instants.push(...REMINDER_WINDOWS.map((w) => exp - w.beforeMs), exp);
  }
  const next = instants.filter((t) => t > now.getTime()).sort((a, b) => a - b)[0];
  return next === undefined ? undefined : new Date(next);
}

/** Marks plus one sent mail, pruned to the key ids that still exist. */
export function withMark(marks: Marks, keyId: string, kind: MailKind, existing: readonly string[]): Marks {
  const out: Marks = {};
  for (const id of existing) if (marks[id]?.length) out[id] = [...marks[id]!];
  out[keyId] = [...new Set([...(out[keyId] ?? []), kind])].sort(
    (a, b) => MAIL_KINDS.indexOf(a) - MAIL_KINDS.indexOf(b),
  );
  return out;
}

/** Marks from the annotation; anything unreadable counts as nothing sent (a mail too many, never none). */
export function parseMarks(value: string | undefined): Marks {
  if (!value) return {};
  try {
    const raw = JSON.parse(value) as unknown;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
    const out: Marks = {};
    for (const [id, kinds] of Object.entries(raw as Record<string, unknown>)) {
      if (Array.isArray(kinds))
        out[id] = kinds.filter((k): k is MailKind => (MAIL_KINDS as readonly unknown[]).includes(k));
    }
    return out;
  } catch {
    return {};
  }
}

/** Union of the key's and the team's contacts, lower-cased domain-insensitive duplicates removed, sorted. */
export function recipients(
  keyContacts: readonly string[] | undefined,
  teamContacts: readonly string[] | undefined,
): string[] {
  const seen = new Map<string, string>();
  for (const c of [...(keyContacts ?? []), ...(teamContacts ?? [])])
    if (!seen.has(c.toLowerCase())) seen.set(c.toLowerCase(), c);
  return [...seen.values()].sort();
}
