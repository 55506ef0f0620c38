// What the page gets for one ApiKey: the spec and status it shows (never managedFields or other
// metadata noise), the CLI's one-word state, and whether the key is a candidate to revoke.
// Pure: the same object and time give the same view (docs/design.md §11).
import { keyState } from '../cli/keys/state.ts';
import type { ApiKeyObject } from '../cli/keys/model.ts';

export interface KeyView {
  namespace: string;
  name: string;
  uid: string | undefined;
  resourceVersion: string | undefined;
  createdAt: string | undefined;
  state: string;
  /** Why the page suggests revoking it (never used / idle), or undefined. */
  revokeCandidate: string | undefined;
  spec: NonNullable<ApiKeyObject['spec']>;
  status: NonNullable<ApiKeyObject['status']>;
}

const DAY = 86_400_000;

/**
 * A key nobody used since it was created `idleAfterMs` ago, or whose last use is that old, is a
 * candidate to revoke (the product page's "prune what nobody uses"). Revoked keys are not.
 */
export function revokeCandidate(obj: ApiKeyObject, now: Date, idleAfterMs: number): string | undefined {
  const state = keyState(obj);
  if (state === 'Revoked' || state === 'Terminating') return undefined;
  const last = Date.parse(obj.status?.lastUsedAt ?? '');
  const created = Date.parse(obj.metadata.creationTimestamp ?? '');
  if (Number.isNaN(last)) {
    return !Number.isNaN(created) && now.getTime() - created >= idleAfterMs ? 'never used' : undefined;
  }
  const idle = now.getTime() - last;
  return idle >= idleAfterMs
    ? `idle for ${idle >= DAY ? `${Math.floor(idle / DAY)}d` : `${Math.floor(idle / 60_000)}m`}`
    : undefined;
}

export function keyView(obj: ApiKeyObject, now: Date, idleAfterMs: number): KeyView {
  return {
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name,
    uid: obj.metadata.uid,
    resourceVersion: obj.metadata.resourceVersion,
    createdAt: obj.metadata.creationTimestamp,
    state: keyState(obj),
    revokeCandidate: revokeCandidate(obj, now, idleAfterMs),
    spec: obj.spec ?? {},
    status: obj.status ?? {},
  };
}
