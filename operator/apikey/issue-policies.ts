import type { ApiKeySpec, KeyEntry } from '../../api/apikey.ts';
import { parseDurationMs } from '../../api/duration.ts';
import type { Expiration } from '../../api/expiration.ts';
import { keyExpiry } from '../keys/expiry.ts';
import { firstDecision, type Policy } from './policies.ts';

// Does this reconcile issue a new key id, and why (docs/design.md §5, "issue chain")? Each policy is one
// trigger; the first that fires names the reason, the predecessor that hands off and who the audit
// line blames. A revoked ApiKey issues nothing.

export type IssueReason = 'Created' | 'Reissued' | 'SecretLost' | 'RotationRequested' | 'AutomaticRotation';

export interface Issue {
  reason: IssueReason;
  predecessor: string | undefined;
  actor: string;
}

export interface IssueInputs {
  spec: ApiKeySpec;
  /** The current key id's entry, if status has one. */
  current: KeyEntry | undefined;
  /** The workload Secret holds the current key (and its hash matches the record, when there is one). */
  secretHoldsCurrent: boolean;
  /** A rotate annotation not served yet. */
  rotationRequested: boolean;
  /** When automatic rotation is due for the current key (ms), if it applies. */
  autoRotationAt: number | undefined;
  nowMs: number;
  specActor: string;
  rotateActor: string;
  operator: string;
}

const activeId = (i: IssueInputs) => (i.current?.state === 'Active' ? i.current.id : undefined);

const noKeyYet: Policy<IssueInputs, Issue> = (i) =>
  i.current ? undefined : { reason: 'Created', predecessor: undefined, actor: i.specActor };

const secretLostTheKey: Policy<IssueInputs, Issue> = (i) =>
  i.current?.state === 'Active' && !i.secretHoldsCurrent
    ? { reason: 'SecretLost', predecessor: activeId(i), actor: i.operator }
    : undefined;

const rotationRequested: Policy<IssueInputs, Issue> = (i) =>
  i.rotationRequested ? { reason: 'RotationRequested', predecessor: activeId(i), actor: i.rotateActor } : undefined;

const currentKeyRevoked: Policy<IssueInputs, Issue> = (i) =>
  i.current?.state === 'Revoked' ? { reason: 'Reissued', predecessor: undefined, actor: i.specActor } : undefined;

const automaticRotationDue: Policy<IssueInputs, Issue> = (i) =>
  i.autoRotationAt !== undefined && i.nowMs >= i.autoRotationAt
    ? { reason: 'AutomaticRotation', predecessor: activeId(i), actor: i.operator }
    : undefined;

const expiredWithAutomaticRotation: Policy<IssueInputs, Issue> = (i) =>
  i.current?.state === 'Expired' && i.spec.rotation?.automatic
    ? { reason: 'AutomaticRotation', predecessor: undefined, actor: i.operator }
    : undefined;

/** The triggers, in precedence order: a lost Secret is repaired before a requested rotation is served, … */
export const ISSUE_POLICIES: readonly Policy<IssueInputs, Issue>[] = [
  noKeyYet,
  secretLostTheKey,
  rotationRequested,
  currentKeyRevoked,
  automaticRotationDue,
  expiredWithAutomaticRotation,
];

export function issueDecision(i: IssueInputs): Issue | undefined {
  return i.spec.revoked ? undefined : firstDecision(ISSUE_POLICIES, i);
}

/**
 * Instant (ms) at which automatic rotation generates the successor: rotation.before ahead of expiry,
 * but never before half the key's lifetime — a `before` at least as long as the lifetime (30d keys with
 * before: 45d, or a Team maxExpiration shorter than before) would otherwise make every new key due at
 * once: a rotation loop. And only when the successor would outlive the key: with a fixed datetime
 * expiration every successor expires at the same instant, so rotating could only churn key ids.
 */
export function autoRotationAt(
  spec: ApiKeySpec,
  current: KeyEntry | undefined,
  expiration: Expiration,
  teamMaxMs: number | undefined,
): number | undefined {
  if (!spec.rotation?.automatic || current?.state !== 'Active' || !current.expiresAt) return undefined;
  const expiresAt = Date.parse(current.expiresAt);
  const createdAt = Date.parse(current.createdAt);
  const lifetime = expiresAt - createdAt;
  const before = (spec.rotation.before && parseDurationMs(spec.rotation.before)) || Math.floor(lifetime / 3);
  const at = Math.max(expiresAt - before, createdAt + Math.floor(lifetime / 2));
  const successorExpiry = keyExpiry(expiration, new Date(at), teamMaxMs).expiresAt;
  return successorExpiry === null || successorExpiry.getTime() > expiresAt ? at : undefined;
}
