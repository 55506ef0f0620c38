// Revocation on the real API server: operator + gateway running, 20 Ready keys, each revoked (spec.revoked)
// while a client polls the gateway with it → every revocation ends in a 401 (and stays one) with the OpenAI error
// shape, the record says revoked, and status says Revoked. Latency is printed for information only;
// bench/revocation.ts is where it is measured (no timed assertions in tests).
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS, API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { runGateway, type RunningGateway } from '../gateway/main.ts';
import { isReady, listApiKeys } from '../bench/operator-state.ts';
import { percentile } from '../bench/gateway-load.ts';
import { measureRevocation, type RevocationTry } from '../bench/revocation-probe.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { eventually, realTimeClock, startTestOperator, type TestOperator, createTeam } from './support/operator.ts';
import { startUpstream, type TestUpstream } from './support/upstream.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `revoke-${RUN}`;
const RECORDS = `revoke-records-${RUN}`;
const TRIES = 20;
const KEY_ID_TRIES = 8;

describe.skipIf(!hasCluster())('revocation reaches the gateway', () => {
  let kc: KubeConfig;
  let op: TestOperator;
  let upstream: TestUpstream;
  let gw: RunningGateway;

  beforeAll(async () => {
    kc = adminKubeConfig();
    op = await startTestOperator({ recordsNamespace: RECORDS, clock: realTimeClock() });
    await createTeam(kc, NS, 'apps');
    const custom = kc.makeApiClient(CustomObjectsApi);
    const names = [
      ...Array.from({ length: TRIES }, (_, i) => `app-${i}`),
      ...Array.from({ length: KEY_ID_TRIES }, (_, i) => `one-${i}`),
    ];
    for (const name of names) {
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.apiKey.plural,
        namespace: NS,
        body: { apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name }, spec: { team: 'apps' } },
      });
    }
    upstream = await startUpstream();
    gw = await runGateway({
      upstream: upstream.url,
      recordsNamespace: RECORDS,
      kubeConfig: adminKubeConfig(),
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      gatewayId: `revoke-${RUN}`,
      logger: pino({ level: 'silent' }),
    });
    await gw.synced;
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    await op?.stop();
  });

  it(`${TRIES} revocations while a client polls: each one ends in a 401 (revoked record, Revoked status)`, async () => {
    await eventually(
      async () => {
        const keys = await listApiKeys(kc, NS);
        return keys.length === TRIES + KEY_ID_TRIES && keys.every(isReady);
      },
      90_000,
      `${TRIES + KEY_ID_TRIES} ApiKeys Ready`,
    );
    const core = kc.makeApiClient(CoreV1Api);
    const tries: RevocationTry[] = [];
    for (let i = 0; i < TRIES; i++) {
      const name = `app-${i}`;
      const secret = await core.readNamespacedSecret({ namespace: NS, name });
      const key = Buffer.from(secret.data!['api-key']!, 'base64').toString('utf8');
      const t = await measureRevocation({ kc, namespace: NS, name, key, gatewayUrl: gw.url, timeoutMs: 30_000 });
      expect(t.okBefore).toBeGreaterThan(0);
      expect(t.error).toMatchObject({ type: expect.any(String), message: expect.any(String) });
      expect(t.error.message).not.toContain(key);
      tries.push(t);
    }
    expect(tries).toHaveLength(TRIES);

    // The state behind the 401s: every key id revoked in the records and in status (status is the
    // operator's last write, after the records, so the newest revocation may show there a bit later).
    const keys = await eventually(
      async () => {
        const all = (await listApiKeys(kc, NS)).filter((k) => k.metadata?.name?.startsWith('app-'));
        return all.every((k) => k.status?.conditions?.some((c) => c.type === 'Revoked' && c.status === 'True'))
          ? all
          : undefined;
      },
      30_000,
      'Revoked in every status',
    );
    for (const k of keys) {
      expect(k.status?.conditions).toContainEqual(expect.objectContaining({ type: 'Revoked', status: 'True' }));
      expect(k.status?.keys?.every((e) => e.state === 'Revoked')).toBe(true);
      expect(gw.records.get(k.status!.currentKeyId!)?.state ?? 'Revoked').toBe('Revoked');
    }
    const ms = tries.map((t) => t.ackTo401Ms).sort((a, b) => a - b);
    process.stdout.write(
      `[revocation] ${TRIES} tries, API ack → first 401: p50 ${percentile(ms, 50).toFixed(0)} ms, ` +
        `max ${Math.max(...ms).toFixed(0)} ms (information only; see bench/revocation.ts)\n`,
    );
  }, 300_000);

  it(`${KEY_ID_TRIES} key id revocations while a client polls: 401 revoked_api_key, Revoked in status, a fresh key id works`, async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const gatewayUrl = gw.url;
    const tries: RevocationTry[] = [];
    for (let i = 0; i < KEY_ID_TRIES; i++) {
      const name = `one-${i}`;
      const secret = await core.readNamespacedSecret({ namespace: NS, name });
      const key = Buffer.from(secret.data!['api-key']!, 'base64').toString('utf8');
      const keyId = secret.metadata!.annotations![ANNOTATIONS.keyId]!;
      const t = await measureRevocation({ kc, namespace: NS, name, key, keyId, gatewayUrl, timeoutMs: 30_000 });
      expect(t.error).toMatchObject({ type: 'authentication_error', code: 'revoked_api_key' });
      tries.push(t);
      // The revoked id stays in the lineage as Revoked with when and why; the ApiKey issues a fresh key id.
      const status = await eventually(
        async () => {
          const ak = (await listApiKeys(kc, NS)).find((k) => k.metadata?.name === name);
          return ak?.status?.currentKeyId && ak.status.currentKeyId !== keyId && isReady(ak) ? ak.status : undefined;
        },
        30_000,
        `${name}: a fresh key id`,
      );
      expect(status.keys?.find((k) => k.id === keyId)).toMatchObject({
        state: 'Revoked',
        revokedAt: expect.any(String),
        revokedReason: expect.stringMatching(/spec\.revokedKeyIds/),
      });
      expect(status.conditions).toContainEqual(
        expect.objectContaining({ type: 'Revoked', status: 'False', reason: 'KeyIdsRevoked' }),
      );
      const fresh = await eventually(
        async () => {
          const s = await core.readNamespacedSecret({ namespace: NS, name });
          return s.metadata?.annotations?.[ANNOTATIONS.keyId] === status.currentKeyId
            ? Buffer.from(s.data!['api-key']!, 'base64').toString('utf8')
            : undefined;
        },
        30_000,
        `${name}: Secret holds the fresh key`,
      );
      expect(
        await eventually(
          async () => {
            const res = await fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${fresh}` } });
            return res.status === 200 ? 200 : undefined;
          },
          30_000,
          `${name}: fresh key answers 200`,
        ),
      ).toBe(200);
      expect((await fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(
        401,
      );
    }
    const ms = tries.map((t) => t.ackTo401Ms).sort((a, b) => a - b);
    process.stdout.write(
      `[revocation key-id] ${KEY_ID_TRIES} tries, API ack → first 401: p50 ${percentile(ms, 50).toFixed(0)} ms, ` +
        `max ${Math.max(...ms).toFixed(0)} ms (information only; see bench/revocation.ts MODE=key-id)\n`,
    );
  }, 300_000);
});
