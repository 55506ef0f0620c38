import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS, RECORD_DATA_KEY } from '../../api/constants.ts';
import { parseKey, verifyKey } from '../../api/keyformat.ts';
import { parseKeyRecord, type KeyRecord } from '../../api/record.ts';
import { FakeCluster } from '../apikey/fake-writer.ts';
import { RecordIndex, UsageIndex } from '../apikey/indexes.ts';
import { createApiKeyReconciler } from '../apikey/reconciler.ts';
import { NS, T0, apiKey, team, testKeys } from '../apikey/testing.ts';
import type { AuditEntry } from '../apikey/types.ts';
import type { ApiKeyWriter } from '../apikey/writer.ts';
import { CrashInjector, SimulatedCrash } from './failure-injection.ts';

// Crash safety of a rotation, against the in-memory fake (the same table runs on the real API server in
// test/rotation-crash.test.ts): the operator dies right after write k of a rotation (k = 0 … every
// write it makes), a NEW reconciler (empty memory, other random keys) takes over the same state, and
// afterwards there is exactly one successor, the Secret's key id has a verifying record, and no key id
// is valid without being in the status lineage.

const KEY = `${NS}/checkout`;

function world() {
  const cluster = new FakeCluster();
  cluster.apiKeys.put(apiKey({ rotation: { handoff: { idle: '1h', maxOverlap: '1d' } } }, { finalizers: [] }));
  cluster.teams.put(team());
  const audit: AuditEntry[] = [];
  const reconcilerOver = (writer: ApiKeyWriter, seed: number) => {
    const index = new RecordIndex(cluster.records, 'nemokeys-system');
    const noUsage = { list: (): V1ConfigMap[] => [], get: () => undefined };
    const keys = testKeys(seed);
    return createApiKeyReconciler({
      apiKeys: cluster.apiKeys, teams: cluster.teams, secrets: cluster.secrets, records: cluster.records,
      recordIndex: { forApiKey: (k) => { for (const r of cluster.records.list()) index.update(r, 'add'); return index.forApiKey(k); } },
      usage: new UsageIndex(noUsage), writer, clock: { now: () => T0 }, recordsNamespace: 'nemokeys-system',
      audit: (a) => audit.push(a), generateKey: () => keys(), monotonicNow: () => 0,
    });
  };
  /** Reconciles until two passes in a row write nothing; SimulatedCrash counts as a pass (a dead process). */
  const settle = async (r: ReturnType<typeof reconcilerOver>) => {
    let quiet = 0;
    for (let i = 0; i < 20 && quiet < 2; i++) {
      try {
        await r.reconcile(KEY);
        quiet = r.lastWrites === 0 ? quiet + 1 : 0;
      } catch (err) {
        if (!(err instanceof SimulatedCrash)) throw err;
        quiet++;
      }
    }
  };
  const requestRotation = (value: string) => {
    const ak = cluster.apiKeys.server.get(KEY)!;
    cluster.apiKeys.put({ ...ak, metadata: { ...ak.metadata, annotations: { [ANNOTATIONS.rotate]: value } } });
  };
  return { cluster, audit, reconcilerOver, settle, requestRotation };
}

const recordsOf = (cluster: FakeCluster): KeyRecord[] =>
  cluster.records.list().map((r) => {
    const p = parseKeyRecord(Buffer.from(r.data![RECORD_DATA_KEY]!, 'base64').toString());
    if (!p.ok) throw new Error(p.error);
    return p.record;
  });

/** Runs one rotation whose operator dies after write `k` (Infinity: never), then restarts it. */
async function crashAt(k: number) {
  const w = world();
  const injector = new CrashInjector();
  const a = w.reconcilerOver(injector.wrapWriter(w.cluster), 1);
  await w.settle(a);
  const first = w.cluster.apiKeys.get(NS, 'checkout')!.status!.currentKeyId!;
  w.requestRotation('r1');
  injector.arm(KEY, k);
  await w.settle(a);
  const crashed = injector.crashed(KEY);
  const steps = injector.writes(KEY);
  await w.settle(w.reconcilerOver(w.cluster, 2)); // the restarted operator
  return { ...w, first, crashed, steps };
}

describe('rotation crash safety (in-memory API server)', async () => {
  const baseline = await crashAt(Number.POSITIVE_INFINITY);

  it('a rotation is these writes, in the crash-safe order', () => {
    expect(baseline.crashed).toBe(false);
    expect(baseline.steps.map((s) => `${s.kind}:${s.kind === 'event' ? s.detail : ''}`)).toEqual([
      'record:', 'record:', 'secret:', 'event:KeyIssued', 'event:KeySuperseded', 'status:',
    ]);
  });

  const ks = Array.from({ length: baseline.steps.length + 1 }, (_, k) => k);
  it.each(ks)('operator dies after write %i of the rotation → one successor, no lost or stray key', async (k) => {
    const w = await crashAt(k);
    expect(w.crashed).toBe(true); // k = the last write: it dies just after the rotation completed
    const status = w.cluster.apiKeys.get(NS, 'checkout')!.status!;
    // exactly one successor; the predecessor still valid (Superseded); the request counted as served
    expect(status.keys!.map((e) => e.state)).toEqual(['Superseded', 'Active']);
    expect(status.keys![0]!.id).toBe(w.first);
    const successor = status.currentKeyId!;
    expect(successor).not.toBe(w.first);
    expect(status.lastRotationRequest).toBe('r1');
    // the Secret holds the successor, and its record verifies it
    const secret = w.cluster.secrets.get(NS, 'checkout')!;
    const plaintext = Buffer.from(secret.data!['api-key']!, 'base64').toString();
    expect(parseKey(plaintext)).toMatchObject({ ok: true, keyId: successor });
    const records = recordsOf(w.cluster);
    const rec = records.find((r) => r.keyId === successor)!;
    expect(verifyKey(plaintext, rec.hash)).toBe(true);
    expect(rec).toMatchObject({ state: 'Active', revoked: false });
    // every usable record is in the lineage, with the lineage's state: nothing valid outside it
    const usable = records.filter((r) => !r.revoked);
    expect(usable.map((r) => [r.keyId, r.state]).sort()).toEqual(status.keys!.map((e) => [e.id, e.state]).sort());
    // one KeyIssued / KeySuperseded Event for this rotation, and the audit trail has the rotation
    expect(w.cluster.events.filter((e) => e.reason === 'KeyIssued' && e.name.includes(successor.toLowerCase()))).toHaveLength(1);
    expect(w.cluster.events.filter((e) => e.reason === 'KeySuperseded')).toHaveLength(1);
    expect(w.audit).toContainEqual(expect.objectContaining({ action: 'rotate', keyId: successor, relatedKeyId: w.first }));
    // and the operator is at rest: one more reconcile writes nothing
    const r = w.reconcilerOver(w.cluster, 3);
    await r.reconcile(KEY);
    expect(r.lastWrites).toBe(0);
  });
});
