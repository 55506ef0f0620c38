import type { KeyEntry } from '../../api/apikey.ts';
import type { SuspensionReason } from '../../api/record.ts';
import { listSome } from './blockers.ts';
import type { EffectiveScopes } from './scopes.ts';
import type { Readiness } from './status.ts';

// The Ready condition: one reason, and a message that says what is wrong and how to fix it.

/** What stops a key from being usable or issued; `suspends`: existing key ids are denied until it is fixed. */
export type Blocker =
  | { reason: SuspensionReason; suspends: true; message: string }
  | { reason: 'SecretConflict'; suspends: false; message: string };

export interface ReadinessInputs {
  blockers: readonly Blocker[];
  current: KeyEntry | undefined;
  revoked: boolean;
  pastDatetime: boolean;
  expirationText: string;
  scopes: EffectiveScopes | undefined;
  teamName: string;
  teamMax: string | undefined;
  capped: boolean;
  secretName: string;
  namespace: string;
  hasSecret: boolean;
}

const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : '(none)');

export function readiness(r: ReadinessInputs): Readiness {
  const [first] = r.blockers;
  if (first) return { ready: false, reason: first.reason, message: r.blockers.map((b) => b.message).join('; ') };
  if (r.revoked)
    return {
      ready: false,
      reason: 'Revoked',
      message:
        'spec.revoked is true: every key id is revoked and gets 401; set spec.revoked to false to issue a new key id',
    };
  if (r.current?.state === 'Expired') {
    return {
      ready: false,
      reason: 'Expired',
      message: `key id ${r.current.id} expired at ${r.current.expiresAt}; issue a replacement: kubectl annotate apikey <name> keys.nemorouter.io/rotate="$(date +%s)" --overwrite (or enable spec.rotation.automatic)`,
    };
  }
  if (r.pastDatetime && r.current?.state !== 'Active') {
    return {
      ready: false,
      reason: 'ExpirationInPast',
      message: `spec.expiration ${r.expirationText} is already in the past: set a future RFC 3339 datetime, a duration such as 90d, or Never`,
    };
  }
  if (r.current?.state !== 'Active' || !r.hasSecret) {
    return {
      ready: false,
      reason: 'Pending',
      message: `waiting for a key id to be issued into Secret ${r.namespace}/${r.secretName}`,
    };
  }
  const notes: string[] = [];
  let reason: Readiness['reason'] = 'KeyReady';
  const refused = r.scopes && (r.scopes.refusedModels.length > 0 || r.scopes.refusedEndpoints.length > 0);
  if (r.scopes && refused) {
    reason = 'ScopesRestricted';
    const parts = [];
    if (r.scopes.refusedModels.length) parts.push(`models ${list(r.scopes.refusedModels)}`);
    if (r.scopes.refusedEndpoints.length) parts.push(`endpoints ${list(r.scopes.refusedEndpoints)}`);
    notes.push(
      `Team "${r.teamName}" does not allow ${parts.join(' and ')}, so the key only gets models ${list(r.scopes.models)} and endpoints ${r.scopes.endpoints.length ? list(r.scopes.endpoints) : '(all)'}; remove them from the ApiKey or extend the Team`,
    );
  }
  if (r.scopes?.narrowedSources.length) {
    reason = 'ScopesRestricted';
    const { narrowedSources: narrowed, ipAllowlist } = r.scopes;
    notes.push(
      `Team "${r.teamName}" ipAllowlistFrom lists do not wholly contain the key's source blocks ` +
        `${listSome(narrowed)}, so the key only gets the ${ipAllowlist.length} source block(s) both allow; ` +
        "remove them from the ApiKey or extend the Team's lists",
    );
  }
  if (r.capped) {
    if (reason === 'KeyReady') reason = 'ExpirationCapped';
    notes.push(
      `spec.expiration ${r.expirationText} exceeds Team "${r.teamName}" maxExpiration ${r.teamMax}: key id ${r.current.id} expires at ${r.current.expiresAt} instead`,
    );
  }
  const base = `key id ${r.current.id} is active in Secret ${r.namespace}/${r.secretName}`;
  return { ready: true, reason, message: notes.length ? `${base}; ${notes.join('; ')}` : base };
}
