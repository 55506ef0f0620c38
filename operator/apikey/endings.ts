import { FINALIZER } from '../../api/constants.ts';
import { parseApiKeySpec } from '../../api/spec.ts';
import { isTerminal } from '../keys/lifecycle.ts';
import type { Policy } from './policies.ts';
import type { StoredRecord } from './record.ts';
import { buildStatus, SOON_MS } from './status.ts';
import type { ApiKeyObject, ApplyPlan, AuditEntry, PlanInputs } from './types.ts';

// The planner's endings (docs/design.md §5): an ApiKey that is gone, being deleted or whose spec does not
// parse gets a plan without keys, before anything else is decided.

/** What the planner starts from: its inputs, the clock and the record Secrets read once. */
export interface Start {
  inp: PlanInputs;
  now: Date;
  stored: StoredRecord[];
}

function cleanupPlan(records: readonly StoredRecord[], extra: Partial<ApplyPlan> = {}): ApplyPlan {
  return { kind: 'apply', records: [], deleteRecords: records.map((r) => r.name), events: [], audit: [], ...extra };
}

export const apiKeyRef = (inp: PlanInputs) => `${inp.namespace}/${inp.name}`;
const hasFinalizer = (ak: ApiKeyObject) => ak.metadata?.finalizers?.includes(FINALIZER) ?? false;

/** Its finalizer was removed by hand, or the records belong to an older incarnation: records go. */
const apiKeyGone: Policy<Start, ApplyPlan> = ({ inp, stored }) =>
  inp.apiKey?.metadata?.uid ? undefined : cleanupPlan(stored);

/** Records go, the finalizer is released, and every key id still usable is audited as revoked. */
const apiKeyBeingDeleted: Policy<Start, ApplyPlan> = ({ inp, stored }) => {
  const ak = inp.apiKey!;
  if (!ak.metadata?.deletionTimestamp) return undefined;
  if (!hasFinalizer(ak)) return cleanupPlan(stored);
  const audit: AuditEntry[] = (ak.status?.keys ?? [])
    .filter((k) => !isTerminal(k.state))
    .map((k) => ({
      action: 'revoke',
      apiKey: apiKeyRef(inp),
      keyId: k.id,
      actor: inp.operatorIdentity,
      reason: 'ApiKey deleted',
    }));
  return cleanupPlan(stored, { finalizer: 'remove', audit });
};

/** A spec that does not parse: status says why; nothing is issued, existing records are kept. */
const specInvalid: Policy<Start, ApplyPlan> = ({ inp, stored, now }) => {
  const ak = inp.apiKey!;
  const parsed = parseApiKeySpec(ak);
  if (parsed.ok) return undefined;
  const prev = ak.status;
  const { status, events } = buildStatus({
    apiKeyName: inp.name,
    previous: prev,
    generation: ak.metadata?.generation,
    readiness: { ready: false, reason: 'InvalidSpec', message: parsed.error },
    current: undefined,
    keys: prev?.keys ?? [],
    waiting: [],
    revokedBySpec: false,
    secretName: '',
    usage: prev?.usage ?? { requests: 0, credits: 0 },
    lastRotationRequest: prev?.lastRotationRequest,
    soonMs: SOON_MS,
    now,
  });
  const { deleteRecords } = ownership(stored, ak.metadata!.uid!);
  return { kind: 'apply', finalizer: finalizerToAdd(ak), records: [], deleteRecords, status, events, audit: [] };
};

/** In precedence order. */
export const ENDINGS: readonly Policy<Start, ApplyPlan>[] = [apiKeyGone, apiKeyBeingDeleted, specInvalid];

export const finalizerToAdd = (ak: ApiKeyObject) => (hasFinalizer(ak) ? undefined : ('add' as const));

/** Records of another incarnation (another uid) are deleted; ours are read by key id. */
export function ownership(stored: readonly StoredRecord[], uid: string) {
  return {
    deleteRecords: stored.filter((r) => r.uid !== uid).map((r) => r.name),
    owned: stored.filter((r) => r.uid === uid && r.keyId !== undefined),
  };
}
