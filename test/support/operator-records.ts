import type { KeyState } from '../../api/apikey.ts';
import { generateKey } from '../../api/keyformat.ts';
import type { KeyRecord } from '../../api/record.ts';
import { renderRecord } from '../../operator/apikey/record.ts';

// Keys and records for gateway tests, made by the operator's own renderer (the real producer), so a
// gateway test consumes exactly what the operator writes for an ApiKey with these scopes and limits.

export interface KeySpec {
  models?: string[];
  endpoints?: string[];
  ipAllowlist?: string[];
  rateLimit?: KeyRecord['rateLimit'];
  budget?: KeyRecord['budget'];
  /** Distinct per ApiKey: the owner's uid is the limits key. */
  uid?: string;
  /** The key id's state in the ApiKey status (default Active). */
  state?: KeyState;
  expiresAt?: string;
}

let n = 0;

export function operatorKey(spec: KeySpec = {}): { key: string; record: KeyRecord } {
  const g = generateKey({ environment: 'dev' });
  const at = '2026-01-01T00:00:00.000Z';
  const uid = spec.uid ?? `00000000-0000-0000-0000-${String(++n).padStart(12, '0')}`;
  const owner = { namespace: 'team-a', name: `app-${n}`, uid, team: 'team-a' };
  const record = renderRecord(
    {
      entry: { id: g.keyId, hint: g.hint, state: spec.state ?? 'Active', createdAt: at, ...(spec.expiresAt ? { expiresAt: spec.expiresAt } : {}) },
      hash: g.hash,
      owner,
      environment: 'dev',
      scopes: { models: spec.models ?? ['*'], endpoints: spec.endpoints ?? [], ipAllowlist: spec.ipAllowlist ?? [] },
      suspension: undefined,
      rateLimit: spec.rateLimit,
      budget: spec.budget,
    },
    at,
  );
  return { key: g.key, record };
}
