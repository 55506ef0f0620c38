// Usage end to end on the real API server: the operator issues a key, TWO gateway replicas (distinct
// gateway ids, short report interval) serve requests with it through to a real upstream, each reports
// its counts, and the operator sums them into the ApiKey's status — exactly the requests served (denied
// ones do not count), with a fresh lastUsedAt, within 30 s.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { GROUP, KINDS, VERSION } from '../api/constants.ts';
import { runGateway, type RunningGateway } from '../gateway/main.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import {
  createReadyKey,
  createTeam,
  eventually,
  realTimeClock,
  startTestOperator,
  type TestOperator,
} from './support/operator.ts';
import { startUpstream, type TestUpstream } from './support/upstream.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `usage-e2e-${RUN}`;
const RECORDS = `usage-e2e-records-${RUN}`;
const REPORT_INTERVAL_MS = 500;

describe.skipIf(!hasCluster())('usage: two gateway replicas → usage reports → ApiKey status', () => {
  let kc: KubeConfig;
  let op: TestOperator;
  let upstream: TestUpstream;
  const gateways: RunningGateway[] = [];
  let issued: { keyId: string; key: string };
  const status = async (name: string) =>
    (
      (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.apiKey.plural,
        namespace: NS,
        name,
      })) as { status?: ApiKeyStatus }
    ).status;

  beforeAll(async () => {
    kc = adminKubeConfig();
    op = await startTestOperator({ recordsNamespace: RECORDS, clock: realTimeClock() });
    await createTeam(kc, NS, 'research');
    issued = await createReadyKey(kc, NS, 'notebook', { team: 'research', allowedModels: ['gpt-4o-mini'] });
    upstream = await startUpstream();
    for (const id of ['gw-a', 'gw-b']) {
      const gw = await runGateway({
        upstream: upstream.url,
        recordsNamespace: RECORDS,
        kubeConfig: adminKubeConfig(),
        listen: { host: '127.0.0.1', port: 0 },
        metricsPort: 0,
        gatewayId: `${id}-${RUN}`,
        reportIntervalMs: REPORT_INTERVAL_MS,
        logger: pino({ level: 'silent' }),
      });
      gateways.push(gw);
      await gw.synced;
    }
  });
  afterAll(async () => {
    for (const gw of gateways) await gw.stop();
    await upstream?.close();
    await op?.stop();
  });

  it('N requests through two replicas → status.usage.requests is exactly N, lastUsedAt fresh, within 30 s', async () => {
    const { keyId, key } = issued;
    // Both replicas must know the key's record before the first request.
    await eventually(async () => gateways.every((g) => g.records.get(keyId)), 30_000, 'record at both gateways');
    const clients = gateways.map((g) => new OpenAI({ apiKey: key, baseURL: `${g.url}/v1`, maxRetries: 0 }));

    const firstRequestAt = Date.now();
    const N = 41;
    let credits = 0;
    for (let i = 0; i < N; i++) {
      const res = await clients[i % 2]!.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `q${i}` }],
      });
      credits += res.usage?.total_tokens ?? 1;
    }
    // Denied before the upstream (model outside the key's scope): no usage.
    for (let i = 0; i < 3; i++) {
      await expect(
        clients[i % 2]!.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'no' }] }),
      ).rejects.toMatchObject({ status: 403 });
    }
    const lastRequestAt = Date.now();
    expect(upstream.seen.filter((r) => r.url.endsWith('/chat/completions'))).toHaveLength(N);

    const s1 = await eventually(
      async () => {
        const s = await status('notebook');
        return s?.usage?.requests === N ? s : undefined;
      },
      30_000,
      `status.usage.requests = ${N}`,
    );
    const visibleAfterMs = Date.now() - lastRequestAt;
    expect(s1.usage).toEqual({ requests: N, credits });
    expect(s1.keys?.[0]).toMatchObject({ id: keyId, requests: N, credits });
    const lastUsed = Date.parse(s1.lastUsedAt!);
    expect(lastUsed).toBeGreaterThanOrEqual(firstRequestAt - 1000);
    expect(lastUsed).toBeLessThanOrEqual(Date.now());
    expect(s1.keys?.[0]?.lastUsedAt).toBe(s1.lastUsedAt);

    // More traffic on one replica only: the sum moves by exactly that much (no double counting of
    // what was already reported in earlier intervals).
    const M = 5;
    for (let i = 0; i < M; i++) {
      const res = await clients[1]!.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `more${i}` }],
      });
      credits += res.usage?.total_tokens ?? 1;
    }
    const s2 = await eventually(
      async () => {
        const s = await status('notebook');
        return s?.usage?.requests === N + M ? s : undefined;
      },
      30_000,
      `status.usage.requests = ${N + M}`,
    );
    expect(s2.usage).toEqual({ requests: N + M, credits });
    expect(Date.parse(s2.lastUsedAt!)).toBeGreaterThanOrEqual(lastUsed);
    process.stdout.write(
      `[usage-e2e] ${N} requests over 2 replicas visible in ApiKey status ${visibleAfterMs} ms after the last one (report interval ${REPORT_INTERVAL_MS} ms)\n`,
    );
  }, 120_000);
});
