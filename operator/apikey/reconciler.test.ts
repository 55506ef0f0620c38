import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { FINALIZER, RECORD_DATA_KEY } from '../../api/constants.ts';
import { parseKey, verifyKey, type GeneratedKey } from '../../api/keyformat.ts';
import { FakeCluster, reconcilerOverFake } from './fake-writer.ts';
import { DAY, HOUR, NS, T0, apiKey, team, testKeys } from './testing.ts';
import type { AuditEntry } from './types.ts';

// Controller glue against the in-memory fake (docs/design.md §6 step 2): what is written, in which order, and
// that a second reconcile of an unchanged object writes nothing.

function setup(spec: Parameters<typeof apiKey>[0] = {}, opts: { finalizers?: string[] } = {}) {
  const cluster = new FakeCluster();
  cluster.apiKeys.put(apiKey(spec, { finalizers: opts.finalizers ?? [] }));
  cluster.teams.put(team());
  let now = T0;
  let mono = 0;
  const audit: AuditEntry[] = [];
  const generated: GeneratedKey[] = [];
  const keys = testKeys(11);
  const reconciler = reconcilerOverFake(cluster, {
    clock: { now: () => now },
    audit: (a) => audit.push(a),
    generateKey: () => {
      const k = keys();
      generated.push(k);
      return k;
    },
    monotonicNow: () => mono,
  });
  return {
    cluster,
    audit,
    generated,
    reconciler,
    setNow: (d: Date) => {
      now = d;
    },
    advanceMono: (ms: number) => {
      mono += ms;
    },
    reconcile: () => reconciler.reconcile(`${NS}/checkout`),
  };
}

describe('ApiKey reconciler against the in-memory fake', () => {
  it('first reconcile writes finalizer → record → Secret → Event → status, in that order', async () => {
    const w = setup();
    await w.reconcile();
    expect(w.cluster.actions.map((a) => a.verb)).toEqual([
      'finalizer+',
      'apply-record',
      'apply-secret',
      'event',
      'status',
    ]);
    const key = w.generated[0]!;
    const secret = w.cluster.secrets.get(NS, 'checkout')!;
    const plaintext = Buffer.from(secret.data!['api-key']!, 'base64').toString();
    expect(parseKey(plaintext)).toMatchObject({ ok: true, keyId: key.keyId });
    const rec = w.cluster.records.get('nemokeys-system', `nemokeys-key-${key.keyId}`)!;
    const recordJson = Buffer.from(rec.data![RECORD_DATA_KEY]!, 'base64').toString();
    expect(verifyKey(plaintext, JSON.parse(recordJson).hash)).toBe(true);
    expect(recordJson).not.toContain(plaintext.slice(-38));
    expect(JSON.stringify(w.cluster.apiKeys.get(NS, 'checkout'))).not.toContain(plaintext.slice(-38));
    expect(JSON.stringify(w.cluster.events)).not.toContain(plaintext.slice(-38));
    expect(JSON.stringify(w.audit)).not.toContain(plaintext.slice(-38));
    expect(w.cluster.apiKeys.get(NS, 'checkout')!.metadata!.finalizers).toEqual([FINALIZER]);
  });

  it('second and third reconciles of an unchanged object make zero writes', async () => {
    const w = setup();
    await w.reconcile();
    const n = w.cluster.actions.length;
    for (let i = 0; i < 3; i++) {
      w.setNow(new Date(T0.getTime() + (i + 1) * HOUR));
      await w.reconcile();
      expect(w.reconciler.lastWrites).toBe(0);
    }
    expect(w.cluster.actions.length).toBe(n);
    expect(w.generated).toHaveLength(1);
  });

  it('the reconcile that confirms a write does not plan again when nothing else moved', async () => {
    const w = setup();
    await w.reconcile();
    expect(await w.reconcile()).toEqual({});
    expect(w.reconciler.confirmationsSkipped).toBe(1);
    // Only the confirmation is skipped: later reconciles plan (and still write nothing).
    await w.reconcile();
    expect(w.reconciler.confirmationsSkipped).toBe(1);
    expect(w.reconciler.lastWrites).toBe(0);
  });

  it.each<[string, (w: ReturnType<typeof setup>) => void]>([
    ['the Team changed', (w) => w.cluster.teams.put(team({ allowedModels: ['gpt-4o'] }))],
    [
      'another writer changed the ApiKey',
      (w) => {
        const ak = w.cluster.apiKeys.get(NS, 'checkout')!;
        w.cluster.apiKeys.put({ ...ak, metadata: { ...ak.metadata, labels: { tier: 'gold' } } });
      },
    ],
    [
      'another writer changed the workload Secret',
      (w) => {
        const s = w.cluster.secrets.get(NS, 'checkout')!;
        w.cluster.secrets.put({ ...s, metadata: { ...s.metadata, annotations: { touched: 'yes' } } });
      },
    ],
    ['the time of the next step came', (w) => w.setNow(new Date(T0.getTime() + 80 * DAY))],
  ])('plans the confirmation when %s', async (_name, change) => {
    const w = setup({ expiration: '30d' });
    await w.reconcile();
    change(w);
    await w.reconcile();
    expect(w.reconciler.confirmationsSkipped).toBe(0);
  });

  it('waits for lagging caches instead of issuing a second key id (read-your-writes)', async () => {
    const w = setup();
    w.cluster.lagging = true;
    w.cluster.sync();
    await w.reconcile();
    expect(w.generated).toHaveLength(1);
    // the caches still show the ApiKey without status and no Secret: planning now would mint again
    expect(await w.reconcile()).toEqual({ requeueAfterMs: 200 });
    expect(await w.reconcile()).toEqual({ requeueAfterMs: 200 });
    w.cluster.sync();
    await w.reconcile();
    expect(w.reconciler.lastWrites).toBe(0);
    expect(w.generated).toHaveLength(1);
  });

  it('gives up waiting after the TTL (a lost watch event cannot wedge a key)', async () => {
    const w = setup();
    w.cluster.lagging = true;
    w.cluster.sync();
    await w.reconcile();
    w.advanceMono(31_000);
    const before = w.cluster.actions.length;
    await w.reconcile();
    expect(w.cluster.actions.length).toBeGreaterThan(before); // planned from the stale cache: proves the TTL path ran
  });

  it('expiry: reminders once each across reconciles, Expired record; requeue-after points at the next instant', async () => {
    const w = setup({ expiration: '30d' });
    const r0 = await w.reconcile();
    expect(r0.requeueAfterMs).toBe(200); // wrote: look again once caches show it
    const r1 = await w.reconcile();
    expect(r1.requeueAfterMs).toBe(6 * HOUR); // 23 days away, capped (timers overflow past ~24.8 days)
    for (const t of [23 * DAY, 23 * DAY + 1, 29 * DAY, 29 * DAY + 5, 30 * DAY, 30 * DAY + 5]) {
      w.setNow(new Date(T0.getTime() + t));
      await w.reconcile();
      await w.reconcile();
    }
    expect(w.cluster.events.filter((e) => e.reminder).map((e) => e.reminder)).toEqual(['7d', '1d', 'expired']);
    const rec = w.cluster.records.list()[0] as V1Secret;
    expect(JSON.parse(Buffer.from(rec.data![RECORD_DATA_KEY]!, 'base64').toString())).toMatchObject({
      state: 'Expired',
    });
    expect(w.audit.map((a) => a.action)).toEqual(['create', 'expire']);
  });

  it('deletion: records removed, then the finalizer; the object is gone', async () => {
    const w = setup();
    await w.reconcile();
    const ak = w.cluster.apiKeys.server.get(`${NS}/checkout`)!;
    w.cluster.apiKeys.put({ ...ak, metadata: { ...ak.metadata, deletionTimestamp: T0 } });
    w.cluster.actions = [];
    await w.reconcile();
    expect(w.cluster.actions.map((a) => a.verb)).toEqual(['delete-record', 'finalizer-']);
    expect(w.cluster.records.list()).toEqual([]);
    expect(w.cluster.apiKeys.get(NS, 'checkout')).toBeUndefined();
  });
});
