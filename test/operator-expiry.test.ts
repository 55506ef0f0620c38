// Expiry with an injected clock on the real API server: the 7-day, 1-day and expiry reminders are each
// sent exactly once — also across an operator restart — and at expiry the key id is Expired in status
// and in its record (so the gateway answers 401).
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { API_VERSION, GROUP, KINDS, RECORD_DATA_KEY, VERSION } from '../api/constants.ts';
import { parseKeyRecord } from '../api/record.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { eventually, startTestOperator, testClock, type TestOperator } from './support/operator.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `opx-${RUN}`;
const RECORDS = `opx-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const DAY = 86_400_000;

describe.skipIf(!hasCluster())('expiry reminders with an injected clock', () => {
  const clock = testClock(new Date());
  let op: TestOperator;
  const core = () => adminKubeConfig().makeApiClient(CoreV1Api);
  const custom = () => adminKubeConfig().makeApiClient(CustomObjectsApi);
  const status = async () =>
    (
      (await custom().getNamespacedCustomObject({ ...AK, namespace: NS, name: 'expiring' })) as {
        status?: ApiKeyStatus;
      }
    ).status;
  const reminderEvents = async () =>
    (await core().listNamespacedEvent({ namespace: NS })).items.filter(
      (e) => e.involvedObject.name === 'expiring' && (e.reason === 'KeyExpiringSoon' || e.reason === 'KeyExpired'),
    );
  const remindersOf = async () => (await status())?.keys?.[0]?.reminders ?? [];

  beforeAll(async () => {
    op = await startTestOperator({ recordsNamespace: RECORDS, clock, watchNamespace: NS });
    await core().createNamespace({ body: { metadata: { name: NS } } });
    await custom().createNamespacedCustomObject({
      ...AK,
      plural: KINDS.team.plural,
      namespace: NS,
      body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name: 'payments' }, spec: { allowedModels: ['*'] } },
    });
    await custom().createNamespacedCustomObject({
      ...AK,
      namespace: NS,
      body: {
        apiVersion: API_VERSION,
        kind: 'ApiKey',
        metadata: { name: 'expiring' },
        spec: { team: 'payments', expiration: '30d' },
      },
    });
  });
  afterAll(async () => {
    await op?.stop();
  });

  it('7d, 1d and expiry reminders once each (across a restart); then Expired in status and record', async () => {
    const s0 = await eventually(
      async () => {
        const s = await status();
        return s?.currentKeyId ? s : undefined;
      },
      30_000,
      'key issued',
    );
    const created = Date.parse(s0.keys![0]!.createdAt);
    expect(Date.parse(s0.expiresAt!)).toBe(created + 30 * DAY);
    expect(await reminderEvents()).toHaveLength(0);

    const tick = async (at: number, expectReminders: string[]) => {
      clock.set(new Date(at));
      op.enqueue('apikey', `${NS}/expiring`);
      await eventually(
        async () => JSON.stringify(await remindersOf()) === JSON.stringify(expectReminders),
        20_000,
        `reminders ${expectReminders}`,
      );
      // more reconciles at the same instant send nothing new
      op.enqueue('apikey', `${NS}/expiring`);
      op.enqueue('apikey', `${NS}/expiring`);
      await new Promise((r) => setTimeout(r, 700));
    };

    await tick(created + 23 * DAY + 60_000, ['7d']);
    expect((await reminderEvents()).map((e) => e.message)).toEqual([expect.stringMatching(/expires in 6 day\(s\)/)]);

    // restart the operator: status remembers the sent reminder, nothing is re-sent
    await op.stop();
    op = await startTestOperator({ recordsNamespace: RECORDS, clock, watchNamespace: NS });
    await tick(created + 23 * DAY + 120_000, ['7d']);
    expect(await reminderEvents()).toHaveLength(1);

    await tick(created + 29 * DAY + 60_000, ['7d', '1d']);
    await tick(created + 30 * DAY + 60_000, ['7d', '1d', 'expired']);
    const events = await reminderEvents();
    expect(events.map((e) => e.reason).sort()).toEqual(['KeyExpired', 'KeyExpiringSoon', 'KeyExpiringSoon']);
    expect(events.every((e) => e.count === 1)).toBe(true);

    const s = await status();
    expect(s!.keys![0]).toMatchObject({ state: 'Expired' });
    expect(s!.conditions).toContainEqual(
      expect.objectContaining({ type: 'Ready', status: 'False', reason: 'Expired' }),
    );
    expect(s!.conditions).toContainEqual(expect.objectContaining({ type: 'Expired', status: 'True' }));
    const rec = await core().readNamespacedSecret({ namespace: RECORDS, name: `nemokeys-key-${s!.currentKeyId}` });
    const parsed = parseKeyRecord(Buffer.from(rec.data![RECORD_DATA_KEY]!, 'base64').toString());
    expect(parsed.ok && parsed.record).toMatchObject({ state: 'Expired' });
    const metrics = await op.metricsText();
    expect(metrics).toMatch(/nemokeys_operator_reminders_total\{kind="1d"\} 1/);
    expect(metrics).toMatch(/nemokeys_operator_reminders_total\{kind="expired"\} 1/);
    expect(metrics).toMatch(/nemokeys_operator_keys\{state="Expired"\} 1/);
    // the alert NemokeysApiKeyExpired reads expiry - time() <= 0: the series must outlive the expiry
    expect(metrics).toContain(
      `nemokeys_apikey_expiry_timestamp_seconds{namespace="${NS}",apikey="expiring",team="payments",key_id="${s!.currentKeyId}"} ${Math.floor(Date.parse(s!.expiresAt!) / 1000)}`,
    );
  });
});
