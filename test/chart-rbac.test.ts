// RBAC sufficiency on the real API server: the chart installed for real, then the real operator and the real
// gateway run with ONLY the chart's ServiceAccounts (bearer tokens, RBAC enforced) through a key's life:
// issue → record → gateway call → usage report → status → rotation (restart target patched) → deletion
// (finalizer cleans records).
// Any missing permission shows up as a step that never completes, or as a 403 in their logs.
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { ANNOTATIONS, API_VERSION, GROUP, KINDS, LABELS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { startDemoUpstream, type DemoUpstream } from '../gateway/demo-upstream.ts';
import { runGateway, type RunningGateway } from '../gateway/main.ts';
import { patchMetadata } from '../kube/apply.ts';
import { runOperator, type RunningOperator } from '../operator/main.ts';
import { installCrds } from './controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster, saKubeConfig } from './support/cluster.ts';
import { ensureHelm, helmTemplateText } from './support/helm.ts';
import { eventually } from './support/operator.ts';

const helm = await ensureHelm();
const id = Math.random().toString(36).slice(2, 7);
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };

function capture(lines: string[]): Writable {
  return new Writable({ write(chunk, _e, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
}

describe.skipIf(!helm || !hasCluster())('chart RBAC is sufficient for the real operator and gateway', () => {
  const release = `rb${id}`;
  const system = `chart-rbac-${id}`; // release namespace = records namespace
  const app = `chart-rbac-app-${id}`;
  const opLogs: string[] = [];
  const gwLogs: string[] = [];
  let admin: KubeConfig;
  let op: RunningOperator;
  let gw: RunningGateway;
  let upstream: DemoUpstream;
  const custom = () => admin.makeApiClient(CustomObjectsApi);
  const core = () => admin.makeApiClient(CoreV1Api);
  const getKey = async () => (await custom().getNamespacedCustomObject({ ...AK, namespace: app, name: 'checkout' })) as { status?: ApiKeyStatus };
  const plaintext = async () => {
    const s = await core().readNamespacedSecret({ namespace: app, name: 'checkout' });
    return Buffer.from(s.data!['api-key']!, 'base64').toString();
  };
  const chat = (key: string) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (r) => { await r.arrayBuffer(); return r.status; });

  beforeAll(async () => {
    admin = adminKubeConfig();
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    for (const name of [system, app]) await core().createNamespace({ body: { metadata: { name } } });
    // Install the chart's objects for real (as `helm install` would, minus the Deployment's pods: no kubelet here).
    const text = await helmTemplateText(helm!, { release, namespace: system });
    await new Promise<void>((res, rej) => {
      const c = execFile(clusterKubectl(), ['--kubeconfig', clusterKubeconfig(), 'apply', '--server-side', '--field-manager=nemokeys-chart-test', '-f', '-'],
        (err, _o, stderr) => (err ? rej(new Error(stderr)) : res()));
      c.stdin!.end(text);
    });
    const dir = await mkdtemp(join(tmpdir(), 'nemokeys-rbac-'));
    const opKubeconfig = join(dir, 'operator.kubeconfig');
    await writeFile(opKubeconfig, (await saKubeConfig(system, `${release}-nemokeys-operator`)).exportConfig(), { mode: 0o600 });
    op = await runOperator({
      kubeconfig: opKubeconfig, recordsNamespace: system, metricsPort: 0, healthPort: 0, bindAddress: '127.0.0.1',
      logLevel: 'debug', leaderElection: true, leaseNamespace: system, identity: `op-${id}`, logDestination: capture(opLogs),
    });
    upstream = await startDemoUpstream();
    gw = await runGateway({
      upstream: upstream.url, recordsNamespace: system, kubeConfig: await saKubeConfig(system, `${release}-nemokeys-gateway`),
      listen: { host: '127.0.0.1', port: 0 }, metricsPort: 0, gatewayId: `gw-${id}`, reportIntervalMs: 200,
      logger: pino({ level: 'debug' }, capture(gwLogs)),
    });
    await gw.synced;
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await op?.stop();
    await upstream?.close();
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.deleteClusterRoleBinding({ name: `${release}-nemokeys-operator` }).catch(() => {});
    await rbac.deleteClusterRole({ name: `${release}-nemokeys-operator` }).catch(() => {});
  });

  it('takes the leader Lease in its own namespace', async () => {
    await eventually(async () => op.isLeader(), 30_000, 'leadership');
  });

  it('issues a key: workload Secret in the app namespace, record in the records namespace, Ready status, Events', async () => {
    await custom().createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: KINDS.team.plural, namespace: app,
      body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name: 'payments' }, spec: { allowedModels: ['gpt-4o-mini'] } } });
    // A restart target: the operator GETs it and patches one pod-template annotation (no kubelet: nothing rolls).
    await admin.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace: app, body: {
      metadata: { name: 'checkout' },
      spec: { selector: { matchLabels: { app: 'checkout' } }, template: { metadata: { labels: { app: 'checkout' } },
        spec: { containers: [{ name: 'app', image: 'example.invalid/checkout:1' }] } } },
    } });
    await custom().createNamespacedCustomObject({ ...AK, namespace: app, body: { apiVersion: API_VERSION, kind: 'ApiKey',
      metadata: { name: 'checkout' }, spec: { team: 'payments', rotation: { restartTargets: [{ kind: 'Deployment', name: 'checkout' }] } } } });
    const k = await eventually(async () => {
      const s = (await getKey()).status;
      return s?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && s.currentKeyId ? s : undefined;
    }, 30_000, 'ApiKey Ready');
    const records = await core().listNamespacedSecret({ namespace: system, labelSelector: `${LABELS.record}=true` });
    expect(records.items.map((r) => r.metadata?.labels?.[LABELS.keyId])).toContain(k.currentKeyId);
    await eventually(async () => (await core().listNamespacedEvent({ namespace: app })).items.length > 0, 10_000, 'an Event');
  });

  it('the gateway serves the key, and its usage report reaches the ApiKey status', async () => {
    const key = await plaintext();
    await eventually(async () => (await chat(key)) === 200, 10_000, 'gateway accepts the key');
    expect(await chat(key)).toBe(200);
    await eventually(async () => ((await getKey()).status?.usage?.requests ?? 0) >= 2, 30_000, 'usage in status');
  });

  it('rotates on the annotation, rolls the restart target and, on deletion, the finalizer removes the records', async () => {
    const before = (await getKey()).status!.currentKeyId!;
    await patchMetadata(admin, { apiVersion: API_VERSION, kind: 'ApiKey', namespace: app, name: 'checkout' },
      { annotations: { [ANNOTATIONS.rotate]: String(Date.now()) } }, { fieldManager: 'nemokeys-chart-test' });
    const after = await eventually(async () => {
      const cur = (await getKey()).status?.currentKeyId;
      return cur && cur !== before ? cur : undefined;
    }, 30_000, 'successor key id');
    await eventually(async () => (await chat(await plaintext())) === 200, 10_000, 'successor accepted');
    await eventually(async () => {
      const d = await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: app, name: 'checkout' });
      return d.spec?.template.metadata?.annotations?.[ANNOTATIONS.restartedFor]?.includes(after);
    }, 30_000, 'restart target annotated with the successor key id');
    await custom().deleteNamespacedCustomObject({ ...AK, namespace: app, name: 'checkout' });
    await eventually(async () => {
      const left = await core().listNamespacedSecret({ namespace: system, labelSelector: `${LABELS.record}=true` });
      return !left.items.some((r) => [before, after].includes(r.metadata?.labels?.[LABELS.keyId] ?? ''));
    }, 30_000, 'records removed by the finalizer');
    await eventually(async () => {
      try {
        await getKey();
        return false;
      } catch {
        return true;
      }
    }, 30_000, 'ApiKey gone');
  });

  it('neither process was ever refused by RBAC', () => {
    const refused = [...opLogs, ...gwLogs].filter((l) => /forbidden|\b403\b/i.test(l));
    expect(refused).toEqual([]);
  });
});
