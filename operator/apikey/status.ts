import type { ApiKeyStatus, KeyEntry } from '../../api/apikey.ts';
import type { ConditionReason } from '../../api/conditions.ts';
import { mergeConditions, type DesiredCondition } from './conditions.ts';
import { eventName, shortHash } from './events.ts';
import type { PlannedEvent } from './types.ts';

// The ApiKey's conditions (Ready, Rotating, Expired, Revoked) and the Events their transitions emit.
// Messages name the problem AND what to do about it; they contain no relative times, so a resync of an
// unchanged object renders byte-identical status (no write).

export interface Readiness {
  ready: boolean;
  reason: ConditionReason<'Ready'>;
  message: string;
}

export interface StatusInputs {
  apiKeyName: string;
  previous: ApiKeyStatus | undefined;
  generation: number | undefined;
  readiness: Readiness;
  current: KeyEntry | undefined;
  keys: KeyEntry[];
  waiting: string[];
  /** Manual hand-off: predecessors wait for the user, and the Rotating condition says so. */
  manualHandoff?: boolean;
  revokedBySpec: boolean;
  /** spec.revokedKeyIds (the Revoked condition names them while the ApiKey itself is not revoked). */
  revokedKeyIds?: readonly string[];
  secretName: string;
  usage: { requests: number; credits: number };
  lastRotationRequest: string | undefined;
  soonMs: number;
  now: Date;
  /** Conditions rendered elsewhere (RestartTargets), appended after the four of this file. */
  extraConditions?: readonly DesiredCondition[];
}

/** Ready reasons that are worth an Event even though Ready is True. */
const NOTEWORTHY_READY = new Set<ConditionReason<'Ready'>>(['ScopesRestricted', 'ExpirationCapped']);

/** How close to its expiry the current key is reported as expiring soon (the planner's default). */
export const SOON_MS = 7 * 86_400_000;

function expiredCondition(current: KeyEntry | undefined, soonMs: number, now: Date): DesiredCondition {
  if (current?.state === 'Expired') {
    return {
      type: 'Expired',
      status: 'True',
      reason: 'Expired',
      message: `key id ${current.id} expired at ${current.expiresAt}; requests with it get 401 until a replacement is issued (annotate keys.nemorouter.io/rotate or enable spec.rotation.automatic)`,
    };
  }
  if (!current?.expiresAt)
    return {
      type: 'Expired',
      status: 'False',
      reason: 'NoExpiry',
      message: current ? `key id ${current.id} never expires` : 'no key id issued yet',
    };
  const soon = Date.parse(current.expiresAt) - now.getTime() <= soonMs;
  return {
    type: 'Expired',
    status: 'False',
    reason: soon ? 'ExpiringSoon' : 'NotExpired',
    message: `key id ${current.id} expires at ${current.expiresAt}${soon ? '; rotate it before then (annotate keys.nemorouter.io/rotate)' : ''}`,
  };
}

export function buildStatus(s: StatusInputs): { status: ApiKeyStatus; events: PlannedEvent[] } {
  const desired: DesiredCondition[] = [
    {
      type: 'Ready',
      status: s.readiness.ready ? 'True' : 'False',
      reason: s.readiness.reason,
      message: s.readiness.message,
    },
    s.waiting.length > 0
      ? s.manualHandoff
        ? {
            type: 'Rotating',
            status: 'True',
            reason: 'HandoffManual',
            message: `manual hand-off: predecessor key ids stay valid until you revoke them (keys handoff ${s.apiKeyName}, or spec.revokedKeyIds): ${s.waiting.join('; ')}`,
          }
        : {
            type: 'Rotating',
            status: 'True',
            reason: 'HandoffPending',
            message: `predecessor key ids stay valid until hand-off: ${s.waiting.join('; ')}`,
          }
      : {
          type: 'Rotating',
          status: 'False',
          reason: 'NoPredecessor',
          message: 'no predecessor key id is waiting for hand-off',
        },
    expiredCondition(s.current, s.soonMs, s.now),
    s.revokedBySpec
      ? {
          type: 'Revoked',
          status: 'True',
          reason: 'RevokedBySpec',
          message: 'spec.revoked is true: every key id is revoked; set it to false to issue a new key id',
        }
      : s.revokedKeyIds?.length
        ? {
            type: 'Revoked',
            status: 'False',
            reason: 'KeyIdsRevoked',
            message: `key ids ${s.revokedKeyIds.join(', ')} are revoked by spec.revokedKeyIds (final); the other key ids keep working`,
          }
        : { type: 'Revoked', status: 'False', reason: 'NotRevoked', message: 'spec.revoked is false' },
    ...(s.extraConditions ?? []),
  ];
  const conditions = mergeConditions(s.previous?.conditions, desired, s.generation, s.now);
  const lastUsedAt = s.keys
    .map((k) => k.lastUsedAt)
    .filter((t): t is string => t !== undefined)
    .sort((a, b) => Date.parse(a) - Date.parse(b))
    .at(-1);
  const status: ApiKeyStatus = {
    ...(s.generation !== undefined ? { observedGeneration: s.generation } : {}),
    conditions,
    ...(s.current ? { currentKeyId: s.current.id, secretName: s.secretName } : {}),
    ...(s.current?.expiresAt ? { expiresAt: s.current.expiresAt } : {}),
    ...(lastUsedAt ? { lastUsedAt } : {}),
    usage: s.usage,
    keys: s.keys,
    ...(s.lastRotationRequest !== undefined ? { lastRotationRequest: s.lastRotationRequest } : {}),
  };
  return { status, events: readyEvents(s) };
}

function readyEvents(s: StatusInputs): PlannedEvent[] {
  const prev = s.previous?.conditions?.find((c) => c.type === 'Ready');
  const r = s.readiness;
  const changed = prev?.reason !== r.reason || (NOTEWORTHY_READY.has(r.reason) && prev?.message !== r.message);
  if (!changed) return [];
  if (r.ready && !NOTEWORTHY_READY.has(r.reason) && (prev === undefined || prev.status === 'True')) return [];
  // Named after the transition (previous condition + new message), stable across retries of this reconcile.
  const name = eventName(
    s.apiKeyName,
    'ready',
    r.reason,
    shortHash(prev?.reason ?? '', prev?.lastTransitionTime ?? '', prev?.message ?? '', r.message),
  );
  return [
    {
      type: r.ready && !NOTEWORTHY_READY.has(r.reason) ? 'Normal' : 'Warning',
      reason: r.reason,
      message: r.message,
      name,
    },
  ];
}
