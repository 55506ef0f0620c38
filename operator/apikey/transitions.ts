import type { KeyEntry } from '../../api/apikey.ts';
import type { Expiration } from '../../api/expiration.ts';
import type { KeyUsage } from '../../api/usage.ts';
import { describeRemaining, dueReminder, keyExpiry, nextExpiryWake } from '../keys/expiry.ts';
import { handoffDecision, isTerminal, revoke, type Handoff } from '../keys/lifecycle.ts';
import { keyEvent, eventName } from './events.ts';
import type { AuditEntry, PlannedEvent } from './types.ts';

// Per key id transitions for one reconcile: usage, expiry (+ reminders), revocation, hand-off. Pure.

export interface TransitionInputs {
  apiKeyRef: string;
  apiKeyName: string;
  keys: KeyEntry[];
  currentId: string | undefined;
  hashes: ReadonlyMap<string, string>;
  usage: ReadonlyMap<string, KeyUsage>;
  expiration: Expiration;
  teamMaxMs: number | undefined;
  revokedBySpec: boolean;
  /** spec.revokedKeyIds: these key ids are revoked, the others keep their rules (docs/design.md §2). */
  revokedKeyIds: ReadonlySet<string>;
  specActor: string;
  operator: string;
  handoff: Handoff;
  now: Date;
}

export interface TransitionResult {
  keys: KeyEntry[];
  events: PlannedEvent[];
  audit: AuditEntry[];
  /** Absolute instants (ms) at which something will change without any watch event. */
  wakes: number[];
  /** Superseded keys still waiting, and for what (for the Rotating condition). */
  waiting: string[];
  /** The current key's expiry was capped by the team's maxExpiration. */
  currentCapped: boolean;
  usageDelta: { requests: number; credits: number };
}

const laterIso = (a: string | undefined, b: string | undefined): string | undefined =>
  a === undefined ? b : b === undefined ? a : Date.parse(a) >= Date.parse(b) ? a : b;

function withUsage(k: KeyEntry, u: KeyUsage | undefined): KeyEntry {
  if (!u) return k;
  // Reports are cumulative per replica; a replica's report disappearing must not make status go back.
  const requests = Math.max(k.requests ?? 0, u.requests);
  const credits = Math.max(k.credits ?? 0, u.credits);
  const lastUsedAt = laterIso(k.lastUsedAt, u.lastUsedAt);
  return { ...k, requests, credits, ...(lastUsedAt ? { lastUsedAt } : {}) };
}

export function applyTransitions(t: TransitionInputs): TransitionResult {
  const events: PlannedEvent[] = [];
  const audit: AuditEntry[] = [];
  const wakes: number[] = [];
  const waiting: string[] = [];
  const usageDelta = { requests: 0, credits: 0 };
  let currentCapped = false;
  const ev = (keyId: string, type: PlannedEvent['type'], reason: string, message: string) =>
    events.push(keyEvent(t.apiKeyName, keyId, type, reason, message));
  const revokeKey = (k: KeyEntry, reason: string, actor: string, successor?: string): KeyEntry => {
    ev(k.id, 'Normal', 'KeyRevoked', `key id ${k.id} revoked: ${reason}`);
    audit.push({
      action: 'revoke',
      apiKey: t.apiKeyRef,
      keyId: k.id,
      actor,
      reason,
      ...(successor ? { relatedKeyId: successor } : {}),
    });
    return revoke(k, reason, t.now);
  };

  const withUse = t.keys.map((k) => {
    const next = withUsage(k, t.usage.get(k.id));
    usageDelta.requests += (next.requests ?? 0) - (k.requests ?? 0);
    usageDelta.credits += (next.credits ?? 0) - (k.credits ?? 0);
    return next;
  });
  const current = withUse.find((k) => k.id === t.currentId);

  const keys = withUse.map((k): KeyEntry => {
    if (isTerminal(k.state)) return k;
    const { expiresAt, capped } = keyExpiry(t.expiration, new Date(k.createdAt), t.teamMaxMs);
    const entry: KeyEntry = { ...k };
    if (expiresAt) entry.expiresAt = expiresAt.toISOString();
    else delete entry.expiresAt;
    if (k.id === t.currentId) currentCapped = capped;
    // A second Active entry can only come from an interrupted write; the Secret decides which one is current.
    if (entry.state === 'Active' && k.id !== t.currentId) entry.state = 'Superseded';

    if (t.revokedBySpec) return revokeKey(entry, `spec.revoked set by ${t.specActor}`, t.specActor);
    if (t.revokedKeyIds.has(k.id))
      return revokeKey(entry, `listed in spec.revokedKeyIds by ${t.specActor}`, t.specActor);
    if (expiresAt && t.now.getTime() >= expiresAt.getTime()) {
      const reminders = [...new Set([...(entry.reminders ?? []), 'expired' as const])];
      events.push({
        type: 'Warning',
        reason: 'KeyExpired',
        message: `key id ${k.id} of ApiKey ${t.apiKeyRef} expired at ${entry.expiresAt}; requests with it now get 401. Issue a replacement: kubectl annotate apikey ${t.apiKeyName} keys.nemorouter.io/rotate="$(date +%s)" --overwrite`,
        name: eventName(t.apiKeyName, k.id, 'reminder-expired'),
        reminder: 'expired',
      });
      audit.push({
        action: 'expire',
        apiKey: t.apiKeyRef,
        keyId: k.id,
        actor: t.operator,
        reason: `expired at ${entry.expiresAt}`,
      });
      return { ...entry, state: 'Expired', reminders };
    }
    if (!t.hashes.has(k.id)) {
      return revokeKey(entry, 'its hashed record was lost and the hash cannot be recovered', t.operator);
    }
    const expiryWake = nextExpiryWake(expiresAt, t.now);
    if (expiryWake !== undefined) wakes.push(expiryWake);
    if (entry.state === 'Superseded') {
      const d = handoffDecision(entry, current, t.handoff, t.now);
      if (d.revoke) return revokeKey(entry, d.reason, t.operator, current?.id); // the end of a hand-off names both keys
      if (d.wakeAt !== undefined && Number.isFinite(d.wakeAt)) wakes.push(d.wakeAt);
      waiting.push(`${k.id} waits for ${d.waitingFor}`);
      return entry;
    }
    const due =
      k.id === t.currentId && expiresAt
        ? dueReminder(new Date(k.createdAt), expiresAt, entry.reminders ?? [], t.now)
        : undefined;
    if (due && expiresAt) {
      events.push({
        type: 'Warning',
        reason: 'KeyExpiringSoon',
        message: `key id ${k.id} of ApiKey ${t.apiKeyRef} expires ${describeRemaining(expiresAt, t.now)} (at ${entry.expiresAt}). Rotate it: kubectl annotate apikey ${t.apiKeyName} keys.nemorouter.io/rotate="$(date +%s)" --overwrite`,
        name: eventName(t.apiKeyName, k.id, `reminder-${due}`),
        reminder: due,
      });
      entry.reminders = [...(entry.reminders ?? []), due];
    }
    return entry;
  });
  return { keys, events, audit, wakes, waiting, currentCapped, usageDelta };
}
