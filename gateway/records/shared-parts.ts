import type { KeyRecord } from '../../api/record.ts';
import { SharedPool, StringPool } from '../../kube/intern.ts';

// Ten thousand records repeat a few values: the Team, the namespace, the state, the expiry second, and
// above all the scopes (every key of a Team usually has the same models, endpoints and source list — a
// CI provider's list is thousands of CIDRs). Decoding gives each record its own copy of all of them;
// sharing one copy keeps the gateway's memory near "one per distinct value" (docs/design.md §7.1), and
// lets per-scope derived data (the compiled allowlist) be built once per distinct list.
// Records are immutable once decoded (the store swaps whole records), so sharing parts is safe.

const strings = new StringPool(1024);
const scopes = new SharedPool<KeyRecord['scopes']>(256);
const rateLimits = new SharedPool<NonNullable<KeyRecord['rateLimit']>>(256);
const budgets = new SharedPool<NonNullable<KeyRecord['budget']>>(256);

const internAll = (list: string[]) => {
  for (let i = 0; i < list.length; i++) list[i] = strings.intern(list[i]!);
};

/** `record` with its repeated parts replaced by shared copies (in place; returns it). */
export function shareRecordParts(r: KeyRecord): KeyRecord {
  r.team = strings.intern(r.team);
  r.owner.namespace = strings.intern(r.owner.namespace);
  r.state = strings.intern(r.state) as KeyRecord['state'];
  if (r.environment !== undefined) r.environment = strings.intern(r.environment) as KeyRecord['environment'];
  if (r.suspendedReason !== undefined)
    r.suspendedReason = strings.intern(r.suspendedReason) as KeyRecord['suspendedReason'];
  if (r.expiresAt !== null) r.expiresAt = strings.intern(r.expiresAt);
  r.updatedAt = strings.intern(r.updatedAt);
  const shared = scopes.share(JSON.stringify(r.scopes), r.scopes);
  if (shared === r.scopes) {
    internAll(shared.models);
    internAll(shared.endpoints);
  }
  r.scopes = shared;
  if (r.rateLimit) r.rateLimit = rateLimits.share(JSON.stringify(r.rateLimit), r.rateLimit);
  if (r.budget) r.budget = budgets.share(JSON.stringify(r.budget), r.budget);
  return r;
}
