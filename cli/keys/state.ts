// One word (plus a reason) that says whether an ApiKey works right now, for the STATE column.
import type { Condition } from '../../api/index.ts';
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
  if (obj.spec?.revoked === true || isTrue(obj, 'Revoked')) return 'Revoked';
  if (isTrue(obj, 'Expired')) return 'Expired';
  if (isTrue(obj, 'Rotating')) return 'Rotating';
  const ready = findCondition(obj, 'Ready');
  if (!ready) return 'Pending';
  if (ready.status === 'True') return 'Ready';
  return ready.reason ? `NotReady (${ready.reason})` : 'NotReady';
}

/**
 * Conditions that report scopes the team does not grant (the effective scopes are key ∩ team).
 * The operator names such reasons after scopes; matching on the word keeps the CLI from having
 * to know every reason string.
 */
export function scopeRefusals(obj: ApiKeyObject): Condition[] {
  return (obj.status?.conditions ?? []).filter(
    (c) => /scope|refus|exceed|notallowed|not allowed/i.test(`${c.reason} ${c.type}`) && c.message !== '',
  );
}
