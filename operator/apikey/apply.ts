import type { V1Secret } from '@kubernetes/client-node';
import type { ApiKeyStatus } from '../../api/apikey.ts';
import type { GeneratedKey } from '../../api/keyformat.ts';
import { FINALIZER, RECORD_DATA_KEY } from '../../api/constants.ts';
import { sameJson } from '../../api/record.ts';
import type { ApiKeyObject, ApplyPlan, AuditEntry, PlannedEvent } from './types.ts';
import { inspectWorkloadSecret, secretUpToDate } from './workload-secret.ts';
import type { ApiKeyWriter } from './writer.ts';

// Executes an ApplyPlan: compares desired with what the caches hold and writes only differences, in
// the crash-safe order documented in operator/keys/lifecycle.ts. A plan for an unchanged object
// performs zero writes.

export interface Cached {
  apiKey: ApiKeyObject | undefined;
  secret: V1Secret | undefined;
  records: readonly V1Secret[];
}

export interface ApplyDeps {
  writer: ApiKeyWriter;
  audit: (entry: AuditEntry) => void;
  /** Called for every Event actually created (reminder counters). */
  onEvent?: (event: PlannedEvent) => void;
  now: Date;
}

/** What this apply wrote, so the reconciler can wait for its caches to catch up. */
export interface Written {
  writes: number;
  /** [cache, namespace/name, resourceVersion written or 'deleted'] */
  expectations: { cache: 'apiKey' | 'secret' | 'record'; key: string; resourceVersion: string | 'deleted' }[];
}

const subset = (have: Record<string, string> | undefined, want: Record<string, string> | undefined) =>
  Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);

export function recordUpToDate(cached: V1Secret | undefined, desired: V1Secret): boolean {
  return (
    cached !== undefined &&
    cached.data?.[RECORD_DATA_KEY] === desired.data?.[RECORD_DATA_KEY] &&
    subset(cached.metadata?.labels, desired.metadata?.labels) &&
    subset(cached.metadata?.annotations, desired.metadata?.annotations)
  );
}

export function statusUpToDate(cached: ApiKeyStatus | undefined, desired: ApiKeyStatus): boolean {
  return sameJson(cached ?? {}, desired);
}

function workloadSecretObject(p: NonNullable<ApplyPlan['secret']>, base64Key: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      labels: p.labels,
      annotations: p.annotations,
      ownerReferences: [p.ownerReference],
    },
    data: { [p.dataKey]: base64Key },
  };
}

export async function applyPlan(
  plan: ApplyPlan,
  cached: Cached,
  minted: GeneratedKey | undefined,
  deps: ApplyDeps,
): Promise<Written> {
  const { writer } = deps;
  const out: Written = { writes: 0, expectations: [] };
  const expect = (
    cache: Written['expectations'][number]['cache'],
    ns: string | undefined,
    name: string | undefined,
    rv: string | undefined,
  ) => {
    out.writes++;
    if (rv) out.expectations.push({ cache, key: `${ns}/${name}`, resourceVersion: rv });
  };
  let ak = cached.apiKey;
  const akNs = ak?.metadata?.namespace;
  const akName = ak?.metadata?.name;

  // 1. finalizer before any record exists
  if (ak && plan.finalizer === 'add') {
    const rv = await writer.setFinalizer(ak, true);
    expect('apiKey', akNs, akName, rv);
    // Later writes guarded by resourceVersion (status) must build on this one.
    ak = {
      ...ak,
      metadata: { ...ak.metadata, resourceVersion: rv, finalizers: [...(ak.metadata?.finalizers ?? []), FINALIZER] },
    };
  }

  // 2. records (new key id's hash first of all, then state / scope changes)
  const cachedRecords = new Map(cached.records.map((r) => [r.metadata?.name, r]));
  for (const desired of plan.records) {
    if (recordUpToDate(cachedRecords.get(desired.metadata?.name), desired)) continue;
    expect('record', desired.metadata?.namespace, desired.metadata?.name, await writer.applyRecord(desired));
  }

  // 3. workload Secret: plaintext only from the minted key or the Secret itself
  if (plan.secret) {
    const s = plan.secret;
    if (minted && minted.keyId === s.keyId) {
      expect(
        'secret',
        s.namespace,
        s.name,
        await writer.applySecret(workloadSecretObject(s, Buffer.from(minted.key).toString('base64'))),
      );
    } else {
      const inspection = inspectWorkloadSecret(cached.secret, s.dataKey, akName ?? '');
      const existing = cached.secret?.data?.[s.dataKey];
      if (
        existing !== undefined &&
        inspection.valid?.keyId === s.keyId &&
        !secretUpToDate(cached.secret, s, inspection)
      ) {
        expect('secret', s.namespace, s.name, await writer.applySecret(workloadSecretObject(s, existing)));
      }
    }
  }

  // 4. orphan / dropped records
  for (const name of plan.deleteRecords) {
    const rec = cachedRecords.get(name);
    if (!rec) continue;
    await writer.deleteRecord(rec.metadata!.namespace!, name);
    out.writes++;
    out.expectations.push({ cache: 'record', key: `${rec.metadata!.namespace}/${name}`, resourceVersion: 'deleted' });
  }

  // 5. Events (deterministic names: AlreadyExists = sent before) and audit
  if (ak) {
    for (const ev of plan.events) {
      const created = await writer.createEvent(ak, ev, deps.now);
      out.writes++;
      if (created) deps.onEvent?.(ev);
    }
  }
  const uid = ak?.metadata?.uid;
  for (const a of plan.audit) deps.audit(uid ? { ...a, uid } : a);

  // 6. status last: it records what the writes above achieved (incl. reminders sent)
  if (ak && plan.status && !statusUpToDate(ak.status, plan.status)) {
    expect('apiKey', akNs, akName, await writer.writeStatus(ak, plan.status));
  }
  // The finalizer goes last of all: after it, the object may vanish.
  if (ak && plan.finalizer === 'remove') expect('apiKey', akNs, akName, await writer.setFinalizer(ak, false));
  return out;
}
