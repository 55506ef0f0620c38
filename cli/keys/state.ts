// One word (plus a reason) that says whether an ApiKey works right now, for the STATE column.
import { CONDITION_TYPES, reasonKind, type Condition, type ReasonKind } from '../../api/index.ts';
import type { ApiKeyObject } from './model.ts';

export const findCondition = (obj: ApiKeyObject, type: string): Condition | undefined =>
  obj.status?.conditions?.find((c) => c.type === type);

const isTrue = (obj: ApiKeyObject, type: string): boolean => findCondition(obj, type)?.status === 'True';

/**
 * Most severe first: a revoked or expired key does not authenticate whatever else is true;
 * Rotating means it works and a successor is being handed off; otherwise the Ready condition decides.
 */
export function keyState(obj: ApiKeyObject): string {
  if (obj.metadata.deletionTimestamp) return 'Terminating';
  if (obj.spec?.revoked === true || isTrue(obj, CONDITION_TYPES.revoked)) return 'Revoked';
  if (isTrue(obj, CONDITION_TYPES.expired)) return 'Expired';
  if (isTrue(obj, CONDITION_TYPES.rotating)) return 'Rotating';
  const ready = findCondition(obj, CONDITION_TYPES.ready);
  if (!ready) return 'Pending';
  if (ready.status === 'True') return 'Ready';
  return ready.reason ? `NotReady (${ready.reason})` : 'NotReady';
}

/** Conditions whose reason (api/conditions.ts) says the Team refuses requested scopes (effective = key ∩ team). */
export function scopeRefusals(obj: ApiKeyObject): Condition[] {
  return (obj.status?.conditions ?? []).filter(
    (c) => reasonKind(c.type, c.reason) === 'scopeRefusal' && c.message !== '',
  );
}

/**
 * Conditions a reader should act on or know about (blocked, notes), by the reason's declared kind.
 * A reason this CLI does not know (a newer operator) is shown too, rather than hidden.
 */
export function attention(obj: ApiKeyObject): Array<Condition & { kind: ReasonKind | 'unknown' }> {
  return (obj.status?.conditions ?? []).flatMap((c) => {
    const kind = reasonKind(c.type, c.reason) ?? 'unknown';
    return kind === 'ok' || kind === 'scopeRefusal' ? [] : [{ ...c, kind }];
  });
}
