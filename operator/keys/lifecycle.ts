import type { HandoffMode, KeyEntry } from '../../api/apikey.ts';
import { MAX_KEY_HISTORY } from '../../api/constants.ts';

// The lifecycle of the key ids of one ApiKey ("the lineage", status.keys[]). Pure.
//
//   (none) ──issue──▶ Active ──succeed──▶ Superseded ──hand-off/maxOverlap──▶ Revoked
//                       │                    │
//                       ├──expiry────────────┴──▶ Expired        (terminal)
//                       └──spec.revoked / lost record ──▶ Revoked (terminal)
//
// Never swap the secret behind a key id: every new plaintext gets a new key id. `succeed` is the one
// step that creates a successor; rotation (annotation / automatic) and a LOST or CORRUPTED workload
// Secret both use it. A lost predecessor's plaintext is gone from the Secret but may still be held by a
// consumer, so it keeps the normal hand-off rules instead of being revoked on the spot.
//
// CRASH SAFETY. The operator may die between any two writes. The apply step writes, in this order:
//   1. finalizer on the ApiKey      (before any record exists, so deletion can always clean up)
//   2. records                       (a NEW key id's hash; state/scope changes of existing ones)
//   3. workload Secret               (plaintext + annotation key-id = the new id)
//   4. deletion of orphan / dropped records
//   5. Events (deterministic names, so a retry cannot send one twice), audit
//   6. status (/status, observedGeneration)
// After a restart the Secret's key-id annotation and the records are the truth when status is behind:
//   - died after 2: the record's key id is in neither status nor the Secret. Its plaintext never left the
//     operator's memory, so it is an orphan: deleted (never valid-forever), and a fresh key id is issued.
//   - died after 3: the Secret names a key id status does not know, and its record verifies the Secret's
//     plaintext: ADOPTED as the current key (the previous current one becomes Superseded, as intended).
//   - died after 4..5: the next reconcile plans the same transitions again (level-triggered); Events with
//     the same name are AlreadyExists and skipped; reminders are recorded in status.keys[].reminders.
// Exactly one key id is ever current: the Secret's. A record that is neither in status nor the Secret is
// deleted; a status entry whose record is gone and whose hash cannot be recovered is revoked.

export interface Handoff {
  /** Manual: the user ends the hand-off (spec.revokedKeyIds / `keys handoff`); idle and maxOverlap do not apply. */
  mode?: HandoffMode;
  idleMs: number;
  maxOverlapMs: number;
}
export const DEFAULT_HANDOFF: Handoff = { mode: 'Automatic', idleMs: 3_600_000, maxOverlapMs: 7 * 86_400_000 };

export interface Successor {
  keyId: string;
  hint: string;
  /** Defaults to now; an adopted key (crash recovery) keeps the instant its record was written. */
  createdAt?: string;
}

const iso = (d: Date): string => d.toISOString();

export function isTerminal(state: KeyEntry['state']): boolean {
  return state === 'Revoked' || state === 'Expired';
}

/** Adds `successor` as the Active key; the Active predecessor (if any) becomes Superseded, still valid. */
export function succeed(
  keys: readonly KeyEntry[],
  predecessorId: string | undefined,
  successor: Successor,
  now: Date,
): KeyEntry[] {
  const next = keys.map(
    (k): KeyEntry =>
      k.id === predecessorId && k.state === 'Active' ? { ...k, state: 'Superseded', supersededAt: iso(now) } : { ...k },
  );
  next.push({ id: successor.keyId, hint: successor.hint, state: 'Active', createdAt: successor.createdAt ?? iso(now) });
  return next;
}

export function revoke(entry: KeyEntry, reason: string, now: Date): KeyEntry {
  return { ...entry, state: 'Revoked', revokedAt: iso(now), revokedReason: reason.slice(0, 256) };
}

export type HandoffDecision =
  | { revoke: true; reason: string }
  | { revoke: false; wakeAt: number | undefined; waitingFor: string };

/**
 * When a Superseded predecessor is revoked: the successor has been used AND the predecessor has been
 * idle (no use since it was superseded or last used, whichever is later) for handoff.idle; or
 * handoff.maxOverlap after it was superseded. (Its own expiry is handled by the expiry rule.)
 */
export function handoffDecision(
  predecessor: KeyEntry,
  successor: KeyEntry | undefined,
  handoff: Handoff,
  now: Date,
): HandoffDecision {
  if (handoff.mode === 'Manual') {
    const used = successor?.lastUsedAt
      ? `successor ${successor.id} last used ${successor.lastUsedAt}`
      : `successor ${successor?.id ?? '(none)'} not used yet`;
    return { revoke: false, wakeAt: undefined, waitingFor: `you to revoke it (${used})` };
  }
  const supersededAt = Date.parse(predecessor.supersededAt ?? predecessor.createdAt);
  const overlapEnds = supersededAt + handoff.maxOverlapMs;
  if (now.getTime() >= overlapEnds)
    return { revoke: true, reason: `hand-off window maxOverlap (${Math.round(handoff.maxOverlapMs / 1000)}s) elapsed` };
  const successorUsed = successor?.lastUsedAt !== undefined;
  const lastUse = predecessor.lastUsedAt ? Date.parse(predecessor.lastUsedAt) : Number.NEGATIVE_INFINITY;
  const idleSince = Math.max(supersededAt, lastUse);
  if (successorUsed && now.getTime() - idleSince >= handoff.idleMs) {
    return {
      revoke: true,
      reason: `hand-off confirmed: successor ${successor.id} in use, predecessor idle for ${Math.round(handoff.idleMs / 1000)}s`,
    };
  }
  const idleWake = successorUsed ? idleSince + handoff.idleMs : undefined;
  return {
    revoke: false,
    wakeAt: Math.min(overlapEnds, idleWake ?? Number.POSITIVE_INFINITY),
    waitingFor: successorUsed
      ? `predecessor ${predecessor.id} to stay idle for handoff.idle (last used ${predecessor.lastUsedAt ?? 'never since superseded'})`
      : `successor ${successor?.id ?? '(none)'} to be used`,
  };
}

/** Bounded history: drops the oldest terminal entries beyond MAX_KEY_HISTORY; returns [kept, dropped]. */
export function trimHistory(keys: readonly KeyEntry[], max = MAX_KEY_HISTORY): [KeyEntry[], KeyEntry[]] {
  let excess = keys.length - max;
  if (excess <= 0) return [[...keys], []];
  const dropped = new Set<string>();
  for (const k of [...keys].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))) {
    if (excess === 0) break;
    if (isTerminal(k.state)) {
      dropped.add(k.id);
      excess--;
    }
  }
  return [keys.filter((k) => !dropped.has(k.id)), keys.filter((k) => dropped.has(k.id))];
}
