// Usage reporting on a real API server: two gateway replicas report one ConfigMap each and their sum
// is exact; a replica restarted with the same identity continues its counts; the write rate is
// bounded by the report interval, not by the request rate; two live replicas sharing a gateway id say so.
// The key and its record come from the real operator.
import { Writable } from 'node:stream';
import { CoreV1Api, CustomObjectsApi, Watch, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, KINDS, LABELS, VERSION } from '../api/constants.ts';
import { decodeUsageReport, type UsageReport } from '../api/usage.ts';
import { startDemoUpstream, type DemoUpstream } from '../gateway/demo-upstream.ts';
import { runGateway, type RunningGateway } from '../gateway/main.ts';
import { usageConfigMapName } from '../gateway/usage/reporter-kube.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import {
  createReadyKey,
  createTeam,
  eventually,
  realTimeClock,
  startTestOperator,
  type TestOperator,
} from './support/operator.ts';

const uniq = () => Math.random().toString(36).slice(2, 8);
const INTERVAL_MS = 300;

async function usageReports(core: CoreV1Api, namespace: string): Promise<UsageReport[]> {
  const list = await core.listNamespacedConfigMap({ namespace, labelSelector: `${LABELS.usage}=true` });
  return list.items.map((cm) => {
    const decoded = decodeUsageReport(cm);
    if (!decoded.ok) throw new Error(decoded.error);
    return decoded.report;
  });
}

const sumOf = (reports: UsageReport[], keyId: string, field: 'requests' | 'credits') =>
  reports.reduce((n, r) => n + (r.keys[keyId]?.[field] ?? 0), 0);

/** One chat completion; returns the credits it costs (the demo upstream's total_tokens). */
async function chat(gw: RunningGateway, key: string, i: number): Promise<number> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `request number ${i}` }] }),
  });
  const body = (await res.json()) as { usage?: { total_tokens: number } };
  if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(body)}`);
  return body.usage?.total_tokens ?? 0;
}

describe.skipIf(!hasCluster())('usage reports from gateway replicas', () => {
  const run = uniq();
  const namespace = `gw-usage-${run}`;
  const workloads = `gw-usage-keys-${run}`;
  let admin: KubeConfig;
  let core: CoreV1Api;
  let op: TestOperator;
  let upstream: DemoUpstream;
  const running: RunningGateway[] = [];
  let key = '';
  const record = { keyId: '' };

  const start = async (gatewayId: string, logs?: string[]) => {
    const gw = await runGateway({
      upstream: upstream.url,
      recordsNamespace: namespace,
      kubeConfig: adminKubeConfig(),
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      gatewayId,
      reportIntervalMs: INTERVAL_MS,
      logger: logs
        ? pino(
            { level: 'info' },
            new Writable({
              write(c, _e, cb) {
                logs.push(...String(c).split('\n').filter(Boolean));
                cb();
              },
            }),
          )
        : pino({ level: 'silent' }),
    });
    running.push(gw);
    await gw.synced;
    await eventually(async () => gw.records.get(record.keyId), 30_000, "the key's record at the gateway");
    return gw;
  };

  beforeAll(async () => {
    admin = adminKubeConfig();
    core = admin.makeApiClient(CoreV1Api);
    op = await startTestOperator({ recordsNamespace: namespace, clock: realTimeClock(), watchNamespace: workloads });
    await createTeam(admin, workloads, 'team');
    ({ keyId: record.keyId, key } = await createReadyKey(admin, workloads, 'reporter', { team: 'team' }));
    upstream = await startDemoUpstream();
  });
  afterAll(async () => {
    for (const gw of running) await gw.stop();
    await upstream?.close();
    await op?.stop();
  });

  let expectedRequests = 0;
  let expectedCredits = 0;

  it('two replicas write one ConfigMap each, and their sum is exactly what was served', async () => {
    const a = await start('replica-a');
    const b = await start('replica-b');
    const N = 40;
    for (let i = 0; i < N; i++) expectedCredits += await chat(i % 3 === 0 ? b : a, key, i);
    expectedRequests += N;
    await expect
      .poll(async () => sumOf(await usageReports(core, namespace), record.keyId, 'requests'), {
        timeout: 10_000,
        interval: 100,
      })
      .toBe(N);
    await expect
      .poll(async () => sumOf(await usageReports(core, namespace), record.keyId, 'credits'), {
        timeout: 10_000,
        interval: 100,
      })
      .toBe(expectedCredits);
    const reports = await usageReports(core, namespace);
    expect(reports.map((r) => r.gateway).sort()).toEqual(['replica-a', 'replica-b']);
    expect(reports.find((r) => r.gateway === 'replica-b')?.keys[record.keyId]?.requests).toBe(Math.ceil(N / 3));
    const cm = await core.readNamespacedConfigMap({ name: usageConfigMapName('replica-a'), namespace });
    expect(cm.metadata?.labels?.[LABELS.managedBy]).toBe('nemokeys');
    expect(cm.metadata?.managedFields?.map((f) => f.manager)).toContain('nemokeys-gateway');
  });

  it('a replica restarted with the same identity continues its counts', async () => {
    const before =
      (await usageReports(core, namespace)).find((r) => r.gateway === 'replica-a')?.keys[record.keyId]?.requests ?? 0;
    expect(before).toBeGreaterThan(0);
    const old = running.find((g) => g.gatewayId === 'replica-a')!;
    await old.stop(); // flushes
    const fresh = await start('replica-a');
    const M = 7;
    for (let i = 0; i < M; i++) expectedCredits += await chat(fresh, key, 100 + i);
    expectedRequests += M;
    await expect
      .poll(
        async () =>
          (await usageReports(core, namespace)).find((r) => r.gateway === 'replica-a')?.keys[record.keyId]?.requests,
        { timeout: 10_000, interval: 100 },
      )
      .toBe(before + M);
    const reports = await usageReports(core, namespace);
    expect(sumOf(reports, record.keyId, 'requests')).toBe(expectedRequests);
    expect(sumOf(reports, record.keyId, 'credits')).toBe(expectedCredits);
  });

  it('writes at most once per interval during a burst of 500 requests', async () => {
    const gw = await start(`burst-${uniq()}`);
    const name = usageConfigMapName(gw.gatewayId);
    // Observe every write as the API server sees it: each one bumps the ConfigMap's resourceVersion.
    const versions = new Set<string>();
    const watch = await new Watch(admin).watch(
      `/api/v1/namespaces/${namespace}/configmaps`,
      { fieldSelector: `metadata.name=${name}` },
      (_type, obj: V1ConfigMap) => {
        if (obj.metadata?.resourceVersion) versions.add(obj.metadata.resourceVersion);
      },
      () => {},
    );
    try {
      const started = Date.now();
      const BURST = 500;
      let next = 0;
      // 8 concurrent clients.
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < BURST) await chat(gw, key, next++);
        }),
      );
      await expect
        .poll(
          async () =>
            (await usageReports(core, namespace)).find((r) => r.gateway === gw.gatewayId)?.keys[record.keyId]?.requests,
          { timeout: 10_000, interval: 100 },
        )
        .toBe(BURST);
      const elapsed = Date.now() - started;
      // Let any write still in flight land before counting.
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
      const intervals = Math.ceil((Date.now() - started) / INTERVAL_MS);
      console.info(
        `[gateway-usage] ${BURST} requests in ${elapsed} ms → ${versions.size} ConfigMap writes (bound ${intervals + 1})`,
      );
      expect(versions.size).toBeGreaterThan(0);
      expect(versions.size).toBeLessThanOrEqual(intervals + 1);
      expect(versions.size).toBeLessThan(BURST / 10);
    } finally {
      watch.abort();
    }
  });

  it('the key ids of a deleted ApiKey leave the report', async () => {
    const gw = await start(`prune-${uniq()}`);
    const doomed = await createReadyKey(admin, workloads, 'doomed', { team: 'team' });
    await eventually(async () => gw.records.get(doomed.keyId), 30_000, "the doomed key's record at the gateway");
    await chat(gw, doomed.key, 1);
    await chat(gw, key, 2);
    const mine = async () => (await usageReports(core, namespace)).find((r) => r.gateway === gw.gatewayId);
    await expect
      .poll(async () => (await mine())?.keys[doomed.keyId]?.requests, { timeout: 10_000, interval: 100 })
      .toBe(1);
    await admin.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: KINDS.apiKey.plural,
      namespace: workloads,
      name: 'doomed',
    });
    // the operator removes its records; the gateway's next report leaves the key id out, keeps the others
    await expect
      .poll(async () => Object.keys((await mine())?.keys ?? {}), { timeout: 30_000, interval: 200 })
      .toEqual([record.keyId]);
  });

  it('two live replicas with the same gateway id: the one overwritten says so', async () => {
    const logs: string[] = [];
    const twin = `twin-${uniq()}`;
    const a = await start(twin, logs);
    await chat(a, key, 1);
    await expect
      .poll(async () => (await usageReports(core, namespace)).some((r) => r.gateway === twin), {
        timeout: 10_000,
        interval: 100,
      })
      .toBe(true);
    const b = await start(twin, logs);
    await chat(b, key, 2);
    await expect
      .poll(
        () =>
          logs.filter((l) => l.includes('another live gateway writes its usage report under the same gateway id'))
            .length,
        { timeout: 10_000, interval: 100 },
      )
      .toBeGreaterThan(0);
    expect(logs.find((l) => l.includes('another live gateway'))).toMatch(/"level":50/);
  });
});
