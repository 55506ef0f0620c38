// The gateway's Kubernetes record source on a real API server: record Secrets written by hand (as the
// operator writes them) are served, revocations and deletions turn into 401s, an invalid record is
// skipped, the gateway fails closed (503) until its first sync — here until RBAC lets it list — and
// it keeps serving through an API server restart, catching up afterwards.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_MANAGER, RECORD_DATA_KEY } from '../api/constants.ts';
import type { KeyRecord } from '../api/record.ts';
import { applyObject, deleteIfExists } from '../kube/apply.ts';
import { startDemoUpstream, type DemoUpstream } from '../gateway/demo-upstream.ts';
import { runGateway, type GatewayOptions, type RunningGateway } from '../gateway/main.ts';
import { recordSecretName } from '../api/record-secret.ts';
import { chartGatewayRoleRules, makeKeyAndRecord, recordSecretManifest } from '../gateway/sources/testing.ts';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.ts';
import { adminKubeConfig, hasCluster, saKubeConfig } from './support/cluster.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const uniq = () => Math.random().toString(36).slice(2, 8);
const silent = pino({ level: 'silent' });
// Short backoff so recovery is observed in seconds, not the production 30 s cap.
const fastInformer: GatewayOptions['informer'] = { backoff: { baseMs: 100, maxMs: 500 }, watchdogMs: 5_000 };

function putRecord(kc: KubeConfig, namespace: string, record: KeyRecord) {
  return applyObject(kubeClientFor(kc), recordSecretManifest(record, namespace), { fieldManager: FIELD_MANAGER });
}

async function statusFor(gw: RunningGateway, key: string): Promise<number> {
  const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

async function grantChartGatewayRole(admin: KubeConfig, namespace: string, serviceAccount: string) {
  const rules = chartGatewayRoleRules(
    readFileSync(join(import.meta.dirname, '..', 'charts', 'nemokeys', 'templates', 'gateway-rbac.yaml'), 'utf8'),
  );
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'nemokeys-gateway' }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'nemokeys-gateway' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'nemokeys-gateway' },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
    },
  });
}

describe.skipIf(!hasCluster())('gateway with --records-namespace (shared API server)', () => {
  const namespace = `gw-k8s-${uniq()}`;
  let admin: KubeConfig;
  let upstream: DemoUpstream;
  let gw: RunningGateway;
  const alice = makeKeyAndRecord();
  const bob = makeKeyAndRecord();

  beforeAll(async () => {
    admin = adminKubeConfig();
    upstream = await startDemoUpstream();
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    await admin
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => {});
  });

  it('fails closed with 503 until it can list the records, then serves them', async () => {
    // The gateway's own ServiceAccount, with no permissions yet: every list is a 403.
    const kc = await saKubeConfig(namespace, 'gateway');
    await putRecord(admin, namespace, alice.record);
    gw = await runGateway({
      upstream: upstream.url,
      recordsNamespace: namespace,
      kubeConfig: kc,
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      gatewayId: `gw-${uniq()}`,
      logger: silent,
      informer: fastInformer,
    });
    expect(await statusFor(gw, alice.key)).toBe(503);
    expect((await fetch(`${gw.metricsUrl}/readyz`)).status).toBe(503);
    expect(gw.records.synced).toBe(false);

    // Exactly the chart's gateway Role: if it lacked a verb the gateway needs, this would never sync.
    await grantChartGatewayRole(admin, namespace, 'gateway');
    await gw.synced;
    expect(await statusFor(gw, alice.key)).toBe(200);
    expect((await fetch(`${gw.metricsUrl}/readyz`)).status).toBe(200);
  });

  it('serves a record Secret written after start, shortly after it is written', async () => {
    expect(await statusFor(gw, bob.key)).toBe(401);
    const written = Date.now();
    await putRecord(admin, namespace, bob.record);
    await expect.poll(() => statusFor(gw, bob.key), { timeout: 10_000, interval: 20 }).toBe(200);
    console.info(`[gateway-k8s] new record served ${Date.now() - written} ms after the Secret write`);
  });

  it('answers 401 once the record says revoked, and 401 after the record is deleted', async () => {
    const written = Date.now();
    await putRecord(admin, namespace, { ...alice.record, state: 'Revoked' });
    await expect.poll(() => statusFor(gw, alice.key), { timeout: 10_000, interval: 20 }).toBe(401);
    console.info(`[gateway-k8s] revocation enforced ${Date.now() - written} ms after the Secret write`);
    expect(await statusFor(gw, bob.key)).toBe(200);

    await deleteIfExists(kubeClientFor(admin), {
      apiVersion: 'v1',
      kind: 'Secret',
      name: recordSecretName(bob.record.keyId),
      namespace,
    });
    await expect.poll(() => statusFor(gw, bob.key), { timeout: 10_000, interval: 20 }).toBe(401);
    expect(gw.records.synced).toBe(true);
  });

  it('skips a Secret that does not hold a valid record and keeps serving the others', async () => {
    const carol = makeKeyAndRecord();
    const broken = recordSecretManifest(makeKeyAndRecord().record, namespace);
    broken.data[RECORD_DATA_KEY] = Buffer.from('{"schemaVersion": 1, "keyId": ').toString('base64');
    await applyObject(kubeClientFor(admin), broken, { fieldManager: FIELD_MANAGER });
    await putRecord(admin, namespace, carol.record);
    await expect.poll(() => statusFor(gw, carol.key), { timeout: 10_000, interval: 20 }).toBe(200);
    expect(gw.records.get(carol.record.keyId)).toEqual(carol.record);
    expect(gw.records.size).toBe(2); // alice (revoked) and carol; the broken one is not in the index
  });
});

describe.skipIf(!hasCluster())('gateway across an API server restart (private control plane)', () => {
  let cp: ControlPlane;
  let upstream: DemoUpstream;
  let gw: RunningGateway;
  const namespace = 'records';

  beforeAll(async () => {
    cp = await startControlPlane({ log: () => {} });
    upstream = await startDemoUpstream();
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    await cp?.stop();
  });

  it('keeps serving its last good index while the API server is down and catches up after', async () => {
    const admin = cp.kubeConfig();
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const alice = makeKeyAndRecord();
    const bob = makeKeyAndRecord();
    await putRecord(admin, namespace, alice.record);
    await putRecord(admin, namespace, bob.record);
    gw = await runGateway({
      upstream: upstream.url,
      recordsNamespace: namespace,
      kubeConfig: cp.kubeConfig(),
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      gatewayId: 'gw-restart',
      logger: silent,
      informer: fastInformer,
      reportIntervalMs: 200,
    });
    await gw.synced;
    expect(await statusFor(gw, alice.key)).toBe(200);

    await cp.stopApiServer();
    // Give the informer time to notice and fail a few times.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(gw.records.synced).toBe(true);
    expect(gw.records.size).toBe(2);
    expect(await statusFor(gw, alice.key)).toBe(200);
    expect(await statusFor(gw, bob.key)).toBe(200);

    await cp.startApiServer();
    // Changes made after recovery arrive: one revocation, one deletion.
    await putRecord(admin, namespace, { ...alice.record, state: 'Revoked' });
    await deleteIfExists(kubeClientFor(admin), {
      apiVersion: 'v1',
      kind: 'Secret',
      name: recordSecretName(bob.record.keyId),
      namespace,
    });
    await expect.poll(() => statusFor(gw, alice.key), { timeout: 20_000, interval: 50 }).toBe(401);
    await expect.poll(() => statusFor(gw, bob.key), { timeout: 20_000, interval: 50 }).toBe(401);
    expect(gw.records.synced).toBe(true);
  });
});
