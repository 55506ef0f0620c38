// Proves the harness gives a real, RBAC-enforcing API server: if any of this were faked (AlwaysAllow,
// an in-memory store, a stub server) these assertions would fail.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.ts';
import { controlPlaneDown, controlPlaneStatus, controlPlaneUp } from '../controlplane/detached.ts';
import { pidAlive } from '../controlplane/process.ts';
import {
  adminKubeConfig,
  clusterKubeconfig,
  clusterKubectl,
  hasCluster,
  saKubeConfig,
  httpStatusOf,
} from './support/cluster.ts';

const run = promisify(execFile);

describe.skipIf(!hasCluster())('shared control plane', () => {
  it('answers /readyz and has namespace default', async () => {
    const { stdout } = await run(clusterKubectl(), ['--kubeconfig', clusterKubeconfig(), 'get', '--raw', '/readyz']);
    expect(stdout.trim()).toBe('ok');
    const ns = await adminKubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: 'default' });
    expect(ns.status?.phase).toBe('Active');
  });

  it('enforces RBAC: a ServiceAccount without a Role gets 403 on secrets, admin does not', async () => {
    const namespace = `rbac-${Date.now()}`;
    const sa = (await saKubeConfig(namespace, 'nobody')).makeApiClient(CoreV1Api);
    const admin = adminKubeConfig();
    expect(await httpStatusOf(admin.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace }))).toBe(200);
    // 403 (not 401): the token authenticates, the authorizer says no.
    expect(await httpStatusOf(sa.listNamespacedSecret({ namespace }))).toBe(403);

    // Granting the permission flips it, so the 403 above came from RBAC and not a broken token.
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'secret-reader' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'secret-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secret-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'nobody', namespace }],
      },
    });
    await expect.poll(() => httpStatusOf(sa.listNamespacedSecret({ namespace })), { timeout: 10_000 }).toBe(200);
    // Still scoped: the Role does not reach other namespaces.
    expect(await httpStatusOf(sa.listNamespacedSecret({ namespace: 'default' }))).toBe(403);
  });

  it('runs kube-controller-manager: namespaces delete, dependents are collected, ClusterRoles aggregate', async () => {
    const admin = adminKubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const namespace = `kcm-${Date.now()}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    // Garbage collection by ownerReferences.
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' } } });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              name: 'owner',
              uid: owner.metadata!.uid!,
            },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace, name: 'owner' });
    await expect
      .poll(() => httpStatusOf(core.readNamespacedSecret({ namespace, name: 'dependent' })), { timeout: 30_000 })
      .toBe(404);
    // Aggregation into the built-in view role, and back out when the labelled role goes.
    const name = `kcm-aggregated-${namespace}`;
    const viewHas = async () =>
      ((await rbac.readClusterRole({ name: 'view' })).rules ?? []).some((r) => r.resources?.includes(name));
    await rbac.createClusterRole({
      body: {
        metadata: { name, labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } },
        rules: [{ apiGroups: ['example.invalid'], resources: [name], verbs: ['get'] }],
      },
    });
    await expect.poll(viewHas, { timeout: 30_000 }).toBe(true);
    await rbac.deleteClusterRole({ name });
    await expect.poll(viewHas, { timeout: 30_000 }).toBe(false);
    // Namespace deletion completes (it used to stay Terminating forever).
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'content' } } });
    await core.deleteNamespace({ name: namespace });
    await expect.poll(() => httpStatusOf(core.readNamespace({ name: namespace })), { timeout: 60_000 }).toBe(404);
  });
});

describe.skipIf(!hasCluster())('startControlPlane', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('keeps data across an API server restart (etcd survives)', async () => {
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: {
        metadata: { name: 'survivor' },
        data: { answer: '42' },
      },
    });
    await cp.stopApiServer();
    await expect(core.readNamespacedConfigMap({ namespace: 'default', name: 'survivor' })).rejects.toThrow();
    await cp.startApiServer();
    const cm = await core.readNamespacedConfigMap({ namespace: 'default', name: 'survivor' });
    expect(cm.data).toEqual({ answer: '42' });
  });

  it('serviceAccountKubeConfig authenticates as the ServiceAccount', async () => {
    const sa = (await cp.serviceAccountKubeConfig('default', 'whoami')).makeApiClient(CoreV1Api);
    const err = await sa.listNamespacedPod({ namespace: 'default' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect(String((err as ApiException<unknown>).body)).toContain('system:serviceaccount:default:whoami');
  });

  it('stop() removes the temp dir it created', async () => {
    const dir = cp.dir;
    expect(existsSync(`${dir}/kubeconfig`)).toBe(true);
    await cp.stop();
    expect(existsSync(dir)).toBe(false);
  });
});

describe.skipIf(!hasCluster())('detached control plane', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nemokeys-detached-'));
  afterAll(async () => {
    await controlPlaneDown({ dir });
  });

  it('outlives the process that started it, refuses a second start, and comes down cleanly', async () => {
    // Start it from a separate node process that exits right away: the point of detached mode.
    const script = `const m = await import(${JSON.stringify(new URL('../controlplane/detached.ts', import.meta.url).href)});
      console.log(await m.controlPlaneUp({ dir: ${JSON.stringify(dir)}, log: () => {} }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    const kubeconfig = stdout.trim();
    expect(kubeconfig).toBe(join(dir, 'kubeconfig'));
    const ready = await run(clusterKubectl(), ['--kubeconfig', kubeconfig, 'get', '--raw', '/readyz']);
    expect(ready.stdout.trim()).toBe('ok');
    const pids = controlPlaneStatus({ dir });
    expect(pids).toBeDefined();
    // `nemokeys dev` gets the controller-manager too, and down stops it.
    expect(pids!.controllerManager && pidAlive(pids!.controllerManager)).toBe(true);

    await expect(controlPlaneUp({ dir })).rejects.toThrow(/already running/);

    expect(await controlPlaneDown({ dir })).toBe(true);
    expect(pidAlive(pids!.controllerManager!)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(await controlPlaneDown({ dir })).toBe(false);
  });
});
