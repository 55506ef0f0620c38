import type { V1Secret } from '@kubernetes/client-node';
import type { ApiKeySpecInput, ApiKeyStatus } from '../../api/apikey.ts';
import { ANNOTATIONS, DEFAULT_RECORDS_NAMESPACE, LABELS, MANAGED_BY } from '../../api/constants.ts';
import { generateKey, type GeneratedKey } from '../../api/keyformat.ts';
import type { TeamSpec } from '../../api/team.ts';
import type { KeyUsage } from '../../api/usage.ts';
import type { ApiKeyObject, PlanInputs, TeamObject } from './types.ts';
import { plan as planner } from './plan.ts';

// Builders for planner / apply tests (not a test file itself). Deterministic randomness so failures
// reproduce; keys generated here are test keys only.

export const NS = 'team-a';
export const UID = 'uid-1';
export const T0 = new Date('2030-01-01T00:00:00Z');
export const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);
export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export function seededRandom(seed: number): (n: number) => Buffer {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      b[i] = s & 0xff;
    }
    return b;
  };
}

export function testKeys(seed = 7): () => GeneratedKey {
  const random = seededRandom(seed);
  return () => generateKey({ random });
}

export function apiKey(
  spec: Partial<ApiKeySpecInput> = {},
  opts: {
    status?: ApiKeyStatus;
    finalizers?: string[];
    deleting?: boolean;
    annotations?: Record<string, string>;
    generation?: number;
    name?: string;
  } = {},
): ApiKeyObject {
  return {
    apiVersion: 'keys.nemorouter.io/v1alpha1',
    kind: 'ApiKey',
    metadata: {
      name: opts.name ?? 'checkout',
      namespace: NS,
      uid: UID,
      generation: opts.generation ?? 1,
      resourceVersion: '1',
      finalizers: opts.finalizers ?? ['keys.nemorouter.io/records'],
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
      ...(opts.deleting ? { deletionTimestamp: T0 } : {}),
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          time: T0,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:spec': { 'f:team': {} } },
        },
      ],
    },
    spec: { team: 'payments', ...spec },
    ...(opts.status ? { status: opts.status } : {}),
  };
}

export function team(spec: Partial<TeamSpec> = {}, name = 'payments'): TeamObject {
  return {
    apiVersion: 'keys.nemorouter.io/v1alpha1',
    kind: 'Team',
    metadata: { name, namespace: NS, uid: 'team-uid', generation: 1 },
    spec: { allowedModels: ['*'], ...spec },
  };
}

export function workloadSecret(
  key: string,
  keyId: string,
  opts: { name?: string; dataKey?: string; apiKeyName?: string } = {},
): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: opts.name ?? 'checkout',
      namespace: NS,
      labels: {
        [LABELS.workloadSecret]: 'true',
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.apiKeyName]: opts.apiKeyName ?? 'checkout',
        [LABELS.team]: 'payments',
      },
      annotations: { [ANNOTATIONS.keyId]: keyId },
      ownerReferences: [
        {
          apiVersion: 'keys.nemorouter.io/v1alpha1',
          kind: 'ApiKey',
          name: 'checkout',
          uid: UID,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    data: { [opts.dataKey ?? 'api-key']: Buffer.from(key).toString('base64') },
  };
}

export function inputs(overrides: Partial<PlanInputs> = {}): PlanInputs {
  return {
    namespace: NS,
    name: 'checkout',
    apiKey: apiKey(),
    team: team(),
    secret: undefined,
    records: [],
    usage: new Map<string, KeyUsage>(),
    recordsNamespace: DEFAULT_RECORDS_NAMESPACE,
    operatorIdentity: 'operator',
    ...overrides,
  };
}

/** Plans, and when a key is asked for, mints one from `keys` and plans again (what the apply step does). */
export function planWithMint(
  plan: (i: PlanInputs, now: Date) => import('./types.ts').Plan,
  inp: PlanInputs,
  now: Date,
  keys: () => GeneratedKey,
): { plan: import('./types.ts').ApplyPlan; key?: GeneratedKey } {
  const first = plan(inp, now);
  if (first.kind === 'apply') return { plan: first };
  const key = keys();
  const second = plan({ ...inp, minted: { keyId: key.keyId, hash: key.hash, hint: key.hint } }, now);
  if (second.kind !== 'apply') throw new Error('planner asked for a second key');
  return { plan: second, key };
}

/** The inputs the next reconcile would see after `p` was applied (a pure stand-in for API server + caches). */
export function afterApply(
  inp: PlanInputs,
  p: import('./types.ts').ApplyPlan,
  key: GeneratedKey | undefined,
): PlanInputs {
  const byName = new Map(inp.records.map((r) => [r.metadata!.name!, r]));
  for (const r of p.records) byName.set(r.metadata!.name!, r);
  for (const d of p.deleteRecords) byName.delete(d);
  let secret = inp.secret;
  if (p.secret) {
    const keep = inp.secret?.data?.[p.secret.dataKey];
    const plaintext = key && key.keyId === p.secret.keyId ? Buffer.from(key.key).toString('base64') : keep;
    secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: p.secret.name,
        namespace: p.secret.namespace,
        labels: p.secret.labels,
        annotations: p.secret.annotations,
        ownerReferences: [p.secret.ownerReference],
      },
      data: plaintext ? { [p.secret.dataKey]: plaintext } : {},
    };
  }
  const ak = inp.apiKey && {
    ...inp.apiKey,
    metadata: { ...inp.apiKey.metadata },
    ...(p.status ? { status: p.status } : {}),
  };
  if (ak && p.finalizer === 'add')
    ak.metadata.finalizers = [...(ak.metadata.finalizers ?? []), 'keys.nemorouter.io/records'];
  if (ak && p.finalizer === 'remove')
    ak.metadata.finalizers = (ak.metadata.finalizers ?? []).filter((f) => f !== 'keys.nemorouter.io/records');
  const { minted: _minted, ...rest } = inp;
  return { ...rest, apiKey: ak, records: [...byName.values()], secret };
}

/** The same inputs with spec fields (and annotations) changed, as a user's edit would. */
export function withSpec(
  inp: PlanInputs,
  spec: Partial<ApiKeySpecInput>,
  annotations?: Record<string, string>,
): PlanInputs {
  const ak = inp.apiKey!;
  return {
    ...inp,
    apiKey: {
      ...ak,
      metadata: { ...ak.metadata, ...(annotations ? { annotations } : {}) },
      spec: { team: 'payments', ...ak.spec, ...spec },
    },
  };
}

/** Reconciles (minting when asked) until a pass plans no key and no Event, as the operator does after its writes. */
export function reconcileUntilQuiet(
  start: PlanInputs,
  now: Date,
  keys: () => GeneratedKey,
): { inp: PlanInputs; minted: GeneratedKey[] } {
  let inp = start;
  const minted: GeneratedKey[] = [];
  for (let i = 0; i < 6; i++) {
    const step = planWithMint(planner, inp, now, keys);
    inp = afterApply(inp, step.plan, step.key);
    if (step.key) minted.push(step.key);
    if (!step.key && step.plan.events.length === 0) break;
  }
  return { inp, minted };
}
