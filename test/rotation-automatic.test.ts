// Automatic rotation on the real API server with an injected clock: the successor is generated at
// expiry − rotation.before (not a minute earlier), the workload Secret switches to it, and a
// predecessor that a consumer keeps using is revoked at handoff.maxOverlap — before its own expiry,
// so a rotating key never reaches its expiry while in use. Usage arrives as gateway usage reports
// (ConfigMaps in the records namespace) stamped in the injected clock's time.
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus, KeyEntry } from '../api/apikey.ts';
import {
  ANNOTATIONS,
  API_VERSION,
  GROUP,
  KINDS,
  LABELS,
  RECORD_DATA_KEY,
  USAGE_DATA_KEY,
  VERSION,
} from '../api/constants.ts';
import { parseKeyRecord } from '../api/record.ts';
import { applyObject } from '../kube/apply.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { eventually, startTestOperator, testClock, type TestOperator } from './support/operator.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `rot-auto-${RUN}`;
const RECORDS = `rot-auto-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe.skipIf(!hasCluster())('automatic rotation with an injected clock', () => {
  const clock = testClock(new Date());
  let op: TestOperator;
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const status = async () =>
    ((await custom.getNamespacedCustomObject({ ...AK, namespace: NS, name: 'auto' })) as { status?: ApiKeyStatus })
      .status;
  const entry = async (id: string): Promise<KeyEntry | undefined> => (await status())?.keys?.find((k) => k.id === id);
  const secretKeyId = async () =>
    (await core.readNamespacedSecret({ namespace: NS, name: 'auto' })).metadata?.annotations?.[ANNOTATIONS.keyId];
  const record = async (id: string) => {
    const s = await core.readNamespacedSecret({ namespace: RECORDS, name: `nemokeys-key-${id}` });
    const p = parseKeyRecord(Buffer.from(s.data![RECORD_DATA_KEY]!, 'base64').toString());
    if (!p.ok) throw new Error(p.error);
    return p.record;
  };
  let requests = 0;
  /** What a gateway replica reports: `ids` used just now (in the injected clock's time). */
  const reportUse = async (ids: string[]) => {
    requests++;
    const lastUsedAt = new Date(clock.now().getTime() - MIN).toISOString();
    const keys = Object.fromEntries(ids.map((id) => [id, { requests, credits: requests, lastUsedAt }]));
    await applyObject(
      kubeClientFor(kc),
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'usage-gw-auto', namespace: RECORDS, labels: { [LABELS.usage]: 'true' } },
        data: { [USAGE_DATA_KEY]: JSON.stringify({ gateway: 'gw-auto', updatedAt: lastUsedAt, keys }) },
      },
      { fieldManager: 'rotation-test' },
    );
    return lastUsedAt;
  };
  /** Moves the clock, reports use of `ids`, and waits until the operator reconciled at that instant. */
  const tickWithUse = async (at: number, ids: string[], seenOn: string) => {
    clock.set(new Date(at));
    const lastUsedAt = await reportUse(ids);
    op.enqueue('apikey', `${NS}/auto`);
    await eventually(
      async () => (await entry(seenOn))?.lastUsedAt === lastUsedAt,
      20_000,
      `usage at ${lastUsedAt} in status`,
    );
  };

  beforeAll(async () => {
    op = await startTestOperator({ recordsNamespace: RECORDS, clock, watchNamespace: NS });
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await custom.createNamespacedCustomObject({
      ...AK,
      plural: KINDS.team.plural,
      namespace: NS,
      body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name: 'payments' }, spec: { allowedModels: ['*'] } },
    });
    await custom.createNamespacedCustomObject({
      ...AK,
      namespace: NS,
      body: {
        apiVersion: API_VERSION,
        kind: 'ApiKey',
        metadata: { name: 'auto' },
        spec: {
          team: 'payments',
          expiration: '30d',
          rotation: { automatic: true, before: '7d', handoff: { idle: '2d', maxOverlap: '3d' } },
        },
      },
    });
  });
  afterAll(async () => {
    await op?.stop();
  });

  it('successor at expiry − before; a predecessor still in use is revoked at maxOverlap, before it expires', async () => {
    const s0 = await eventually(
      async () => {
        const s = await status();
        return s?.currentKeyId ? s : undefined;
      },
      30_000,
      'first key',
    );
    const id1 = s0.currentKeyId!;
    const created = Date.parse(s0.keys![0]!.createdAt);
    const expires1 = created + 30 * DAY;
    expect(Date.parse(s0.expiresAt!)).toBe(expires1);

    // One minute before expiry − 7d: no successor yet.
    await tickWithUse(expires1 - 7 * DAY - MIN, [id1], id1);
    expect((await status())!.currentKeyId).toBe(id1);
    expect((await status())!.keys).toHaveLength(1);

    // One minute after: the successor, in the Secret; the predecessor Superseded and still valid.
    clock.set(new Date(expires1 - 7 * DAY + MIN));
    op.enqueue('apikey', `${NS}/auto`);
    const s1 = await eventually(
      async () => {
        const s = await status();
        return s?.currentKeyId !== id1 ? s : undefined;
      },
      20_000,
      'successor',
    );
    const id2 = s1!.currentKeyId!;
    expect(s1!.keys!.map((k) => [k.id, k.state])).toEqual([
      [id1, 'Superseded'],
      [id2, 'Active'],
    ]);
    expect(await eventually(async () => (await secretKeyId()) === id2, 10_000, 'Secret switched')).toBe(true);
    expect(await record(id1)).toMatchObject({ state: 'Superseded', expiresAt: new Date(expires1).toISOString() });
    const [r1, r2] = [await record(id1), await record(id2)];
    expect({ scopes: r2.scopes, team: r2.team, limitsKey: r2.limitsKey }).toEqual({
      scopes: r1.scopes,
      team: r1.team,
      limitsKey: r1.limitsKey,
    }); // same scopes, same budget bucket
    expect(Date.parse(s1!.expiresAt!)).toBe(expires1 - 7 * DAY + MIN + 30 * DAY); // the successor has its own full lifetime
    expect(
      op.logs
        .map((l) => (l.includes('"stream":"audit"') ? JSON.parse(l) : {}))
        .filter((a) => a.apiKey === `${NS}/auto`),
    ).toContainEqual(
      expect.objectContaining({
        action: 'rotate',
        keyId: id2,
        relatedKeyId: id1,
        actor: 'operator',
        reason: 'AutomaticRotation',
      }),
    );

    // A consumer keeps using the predecessor (and another one the successor): not idle, so it stays…
    // (idle is 2d because the clock jumps a day at a time: a reconcile may run at the new instant
    // before the new report arrives, and must not mistake the day without reports for idleness.)
    for (const t of [1 * DAY, 2 * DAY, 3 * DAY - HOUR]) {
      await tickWithUse(expires1 - 7 * DAY + MIN + t, [id1, id2], id1);
      expect(await entry(id1)).toMatchObject({ state: 'Superseded' });
    }
    // …until maxOverlap (3d after it was superseded), four days before it would have expired.
    await tickWithUse(expires1 - 4 * DAY + 2 * MIN, [id1, id2], id2);
    const revoked = await eventually(
      async () => {
        const e = await entry(id1);
        return e?.state === 'Revoked' ? e : undefined;
      },
      20_000,
      'predecessor revoked',
    );
    expect(revoked.revokedReason).toMatch(/maxOverlap/);
    expect(Date.parse(revoked.revokedAt!)).toBeLessThan(expires1);
    expect(await eventually(async () => (await record(id1)).state === 'Revoked', 10_000, 'record revoked')).toBe(true);
    const final = (await status())!;
    expect(final.keys!.map((k) => k.state)).toEqual(['Revoked', 'Active']);
    expect(final.keys!.some((k) => k.state === 'Expired')).toBe(false);
    expect(final.conditions).toContainEqual(expect.objectContaining({ type: 'Rotating', status: 'False' }));
    expect(final.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True' }));
  });
});
