import type { KeyRecord, SuspensionReason } from '../../api/record.ts';

// docs/design.md §4 step 2: the one place the gateway turns a record's state into an answer. The record's
// `state` is the single source of truth; each refusal says what it is — expired (with the date), revoked,
// suspended (and why) — all 401 in the OpenAI error shape (gateway/errors.ts). Details are built from
// the record the operator wrote, never from request input.

export type KeyStateDenial = { reason: 'revoked' | 'expired' | 'suspended'; detail?: string };

/** Fixed texts per suspension reason: what the key owner must fix. */
export const SUSPENSION_DETAILS: Record<SuspensionReason, string> = {
  TeamNotFound: "Its Team does not exist: the key owner must create the Team or fix the ApiKey's spec.team.",
  TeamInvalid: 'Its Team has an invalid spec: the key owner must fix the Team.',
  NoAllowedModels:
    "Its Team allows none of the key's models: the key owner must change the key's allowedModels or the Team.",
  NoAllowedEndpoints:
    "Its Team allows none of the key's endpoints: the key owner must change the key's allowedEndpoints or the Team.",
  NoAllowedSources:
    "Its Team's source lists share no address with the key's: the key owner must change the key's allowlist or the Team.",
  IpAllowlistUnresolved:
    "An ipAllowlistFrom list (the key's or its Team's) cannot be read: the key owner must fix the ConfigMap it names.",
};

/**
 * undefined when the key id may be used at `nowMs`. Order: revoked (final) before expired (final, and
 * the clock may pass the expiry before the operator writes Expired) before suspended (reversible).
 * `expiresAtMs` is the record's expiresAt parsed once by the caller (NaN-safe: -Infinity = expired).
 */
export function keyStateDenial(record: KeyRecord, expiresAtMs: number, nowMs: number): KeyStateDenial | undefined {
  if (record.state === 'Revoked') return { reason: 'revoked' };
  if (record.state === 'Expired' || expiresAtMs <= nowMs) {
    return Number.isFinite(expiresAtMs)
      ? { reason: 'expired', detail: `It expired at ${new Date(expiresAtMs).toISOString()}.` }
      : { reason: 'expired' };
  }
  if (record.state === 'Suspended') {
    return record.suspendedReason
      ? { reason: 'suspended', detail: SUSPENSION_DETAILS[record.suspendedReason] }
      : { reason: 'suspended' };
  }
  return undefined;
}
