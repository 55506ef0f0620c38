// Usage reports stay bounded, on the real API server: a replica that used 10 000 keys (each of its own
// budgeted ApiKey, with large counts) writes a report far below the 1 MiB object limit; 20 000 are capped
// so the report can never approach the limit; key ids whose records are gone leave the report.
import { randomUUID } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../api/keyformat.ts';
import { decodeUsageReport, USAGE_GZ_DATA_KEY } from '../api/usage.ts';
import { createUsageReporter, MAX_REPORTED_KEYS } from '../gateway/usage/reporter.ts';
import { kubeUsageReportStore, usageConfigMapName } from '../gateway/usage/reporter-kube.ts';
import { SpendLedger } from '../gateway/usage/spend.ts';
import { UsageTracker } from '../gateway/usage/tracker.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const MIB = 1024 * 1024;
const NOW = Date.now();

/** `n` used keys with worst-case-sized numbers: up to 10 M requests, 10 G credits, last used within 30 days. */
function usedKeys(n: number) {
  const tracker = new UsageTracker();
  const ledger = new SpendLedger(() => undefined);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const keyId = generateKey({ environment: 'prod' }).keyId;
    ids.push(keyId);
    tracker.seed({
      [keyId]: {
        requests: Math.floor(Math.random() * 1e7),
        credits: Math.floor(Math.random() * 1e10),
        lastUsedAt: new Date(NOW - Math.floor(Math.random() * 30 * 86_400_000)).toISOString(),
      },
    });
    ledger.charge(keyId, randomUUID(), 'd20500', Math.floor(Math.random() * 1e9));
  }
  return { tracker, ledger, ids };
}

describe.skipIf(!hasCluster())('usage report size', () => {
  const namespace = `usage-size-${Math.random().toString(36).slice(2, 7)}`;
  let kc: KubeConfig;
  let core: CoreV1Api;
  beforeAll(async () => {
    kc = adminKubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => {});
  });

  /** Writes one report through the real store; returns the stored object's payload bytes and decoded key count. */
  const writeAndRead = async (gatewayId: string, u: ReturnType<typeof usedKeys>, keep?: (id: string) => boolean) => {
    const reporter = createUsageReporter({
      tracker: u.tracker,
      ledger: u.ledger,
      gatewayId,
      intervalMs: 3_600_000,
      store: kubeUsageReportStore({ kube: kubeClientFor(kc), namespace, gatewayId }),
      ...(keep ? { retain: () => ({ keyId: keep, window: () => 'd20500' }) } : {}),
    });
    await reporter.start();
    await reporter.flush();
    await reporter.stop();
    expect(reporter.writes).toBeGreaterThan(0);
    const cm = await core.readNamespacedConfigMap({ namespace, name: usageConfigMapName(gatewayId) });
    const payload = Buffer.from(cm.binaryData![USAGE_GZ_DATA_KEY]!, 'base64').length;
    const decoded = decodeUsageReport(cm);
    if (!decoded.ok) throw new Error(decoded.error);
    return {
      payload,
      object: JSON.stringify(cm).length,
      keys: Object.keys(decoded.report.keys).length,
      report: decoded.report,
    };
  };

  it('10 000 used keys per replica: far below 1 MiB', async () => {
    const u = usedKeys(10_000);
    const r = await writeAndRead('ten-thousand', u);
    process.stdout.write(
      `[usage-report-size] 10 000 keys with budget spend: payload ${(r.payload / 1024).toFixed(0)} KiB, object as JSON ${(r.object / 1024).toFixed(0)} KiB\n`,
    );
    expect(r.keys).toBe(10_000);
    expect(Object.values(r.report.keys).filter((k) => k.spend !== undefined)).toHaveLength(10_000);
    expect(r.payload).toBeLessThan(MIB / 2);
  }, 60_000);

  it(`20 000 used keys: capped at ${MAX_REPORTED_KEYS}, the most recently used kept, still written`, async () => {
    const u = usedKeys(20_000);
    const r = await writeAndRead('twenty-thousand', u);
    process.stdout.write(
      `[usage-report-size] 20 000 keys (cap ${MAX_REPORTED_KEYS}): payload ${(r.payload / 1024).toFixed(0)} KiB\n`,
    );
    expect(r.keys).toBe(MAX_REPORTED_KEYS);
    expect(r.payload).toBeLessThan(0.75 * MIB);
    const oldestKept = Math.min(...Object.values(r.report.keys).map((k) => Date.parse(k.lastUsedAt)));
    const dropped = u.ids.length - MAX_REPORTED_KEYS;
    expect(dropped).toBe(5_000);
    // every key id that was dropped was used no later than the oldest kept one
    const snapshot = u.tracker.snapshot();
    expect(Object.keys(snapshot)).toHaveLength(MAX_REPORTED_KEYS);
    expect(Object.values(snapshot).every((k) => Date.parse(k.lastUsedAt) >= oldestKept)).toBe(true);
  }, 60_000);

  it('key ids of deleted ApiKeys (records gone) leave the report', async () => {
    const u = usedKeys(1_000);
    const live = new Set(u.ids.slice(0, 400));
    const r = await writeAndRead('pruned', u, (id) => live.has(id));
    expect(new Set(Object.keys(r.report.keys))).toEqual(live);
  }, 60_000);
});
