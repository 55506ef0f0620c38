import { describe, expect, it } from 'vitest';
import { ANNOTATIONS, RECORD_DATA_KEY } from '../../api/constants.ts';
import { parseKey, verifyKey } from '../../api/keyformat.ts';
import { isUsableRecord, parseKeyRecord, type KeyRecord } from '../../api/record.ts';
import { FakeCluster, reconcilerOverFake } from '../apikey/fake-writer.ts';
import type { KeyUsage } from '../../api/usage.ts';
import { HOUR, NS, T0, apiKey, at, team, testKeys } from '../apikey/testing.ts';
import type { AuditEntry } from '../apikey/types.ts';
import type { ApiKeyWriter } from '../apikey/writer.ts';
import { CrashInjector, SimulatedCrash } from './failure-injection.ts';

// Crash safety of a rotation and of its hand-off, against the in-memory fake (the same table runs on the real API server in
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
  const usage = new Map<string, KeyUsage>();
  const clock = { t: T0 };
  const reconcilerOver = (writer: ApiKeyWriter, seed: number) => {
    const keys = testKeys(seed);
    return reconcilerOverFake(cluster, {
      usage: { totals: () => usage },
      writer,
      clock: { now: () => clock.t },
      audit: (a) => audit.push(a),
      generateKey: () => keys(),
      monotonicNow: () => 0,
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
  return { cluster, audit, usage, clock, reconcilerOver, settle, requestRotation };
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
      'record:',
      'record:',
      'secret:',
      'event:KeyIssued',
      'event:KeySuperseded',
      'status:',
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
    expect(rec).toMatchObject({ state: 'Active' });
    // every usable record is in the lineage, with the lineage's state: nothing valid outside it
    const usable = records.filter(isUsableRecord);
    expect(usable.map((r) => [r.keyId, r.state]).sort()).toEqual(status.keys!.map((e) => [e.id, e.state]).sort());
    // one KeyIssued / KeySuperseded Event for this rotation, and the audit trail has the rotation
    expect(
      w.cluster.events.filter((e) => e.reason === 'KeyIssued' && e.name.includes(successor.toLowerCase())),
    ).toHaveLength(1);
    expect(w.cluster.events.filter((e) => e.reason === 'KeySuperseded')).toHaveLength(1);
    expect(w.audit).toContainEqual(
      expect.objectContaining({ action: 'rotate', keyId: successor, relatedKeyId: w.first }),
    );
    // and the operator is at rest: one more reconcile writes nothing
    const r = w.reconcilerOver(w.cluster, 3);
    await r.reconcile(KEY);
    expect(r.lastWrites).toBe(0);
  });
});

/** A completed rotation whose hand-off is due (successor used, predecessor idle 2h > handoff.idle 1h); the operator dies after write `k` of the hand-off. */
async function handoffCrashAt(k: number) {
  const w = world();
  const before = w.reconcilerOver(w.cluster, 1);
  await w.settle(before);
  w.requestRotation('r1');
  await w.settle(before);
  const [pred, succ] = w.cluster.apiKeys.get(NS, 'checkout')!.status!.keys!;
  w.usage.set(pred!.id, { requests: 5, credits: 5, lastUsedAt: T0.toISOString() });
  w.usage.set(succ!.id, { requests: 1, credits: 1, lastUsedAt: at(HOUR).toISOString() });
  w.clock.t = at(2 * HOUR);
  const injector = new CrashInjector();
  injector.arm(KEY, k);
  await w.settle(w.reconcilerOver(injector.wrapWriter(w.cluster), 3));
  const steps = injector.writes(KEY);
  const afterCrash = w.cluster.actions.length;
  await w.settle(w.reconcilerOver(w.cluster, 4));
  return {
    ...w,
    pred: pred!.id,
    succ: succ!.id,
    steps,
    crashed: injector.crashed(KEY),
    restartWrites: w.cluster.actions.slice(afterCrash),
  };
}

describe('hand-off crash safety (in-memory API server)', async () => {
  const baseline = await handoffCrashAt(Number.POSITIVE_INFINITY);

  it('a hand-off is: revoked record first, then its Event, then status', () => {
    expect(baseline.steps.map((s) => `${s.kind}:${s.kind === 'event' ? s.detail : ''}`)).toEqual([
      'record:',
      'event:KeyRevoked',
      'status:',
    ]);
  });

  it.each(Array.from({ length: baseline.steps.length + 1 }, (_, k) => k))(
    'operator dies after write %i of the hand-off → predecessor revoked exactly once, never valid again',
    async (k) => {
      const w = await handoffCrashAt(k);
      expect(w.crashed).toBe(true);
      const status = w.cluster.apiKeys.get(NS, 'checkout')!.status!;
      expect(status.keys!.map((e) => [e.id, e.state])).toEqual([
        [w.pred, 'Revoked'],
        [w.succ, 'Active'],
      ]);
      const recs = recordsOf(w.cluster);
      expect(recs.find((r) => r.keyId === w.pred)).toMatchObject({ state: 'Revoked' });
      expect(recs.find((r) => r.keyId === w.succ)).toMatchObject({ state: 'Active' });
      // a record revoked before the crash is never rewritten (let alone un-revoked) by the restarted operator
      if (k >= 1) expect(w.restartWrites.filter((a) => a.verb === 'apply-record')).toEqual([]);
      expect(w.cluster.events.filter((e) => e.reason === 'KeyRevoked')).toHaveLength(1);
      expect(w.audit.filter((a) => a.action === 'revoke' && a.keyId === w.pred).length).toBeGreaterThanOrEqual(1);
      expect(status.conditions!.find((c) => c.type === 'Rotating')).toMatchObject({ status: 'False' });
    },
  );
});
