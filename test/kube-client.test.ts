// kube/client.ts + kube/kubeconfig.ts (the operator's and gateway's Kubernetes client) against the real
// API server: credentials as kubeconfigs carry them (token files that change, exec plugins, impersonation
// with several groups), errors as the server sends them, watches, and keep-alive connections.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createObject, deleteIfExists, readObject } from '../kube/apply.ts';
import { KubeClient } from '../kube/client.ts';
import { apiErrorMessage, isNotFound, statusCodeOf } from '../kube/errors.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';
import { loadKubeConnection } from '../kube/kubeconfig.ts';
import { CONFIG_MAPS, resourcePath } from '../kube/resources.ts';
import { whoAmI } from '../operator/audit/wiring.ts';
import { adminKubeConfig, clusterKubeconfig, hasCluster, saKubeConfig } from './support/cluster.ts';

interface Review {
  status?: { userInfo?: { username?: string; groups?: string[] } };
}
const review = (kube: KubeClient) =>
  kube.request<Review>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });

describe.skipIf(!hasCluster())('KubeClient on the real API server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nemokeys-kube-client-'));
  const namespace = `kube-client-${process.pid}`;
  const admin = adminKubeConfig();
  const cluster = admin.getCurrentCluster()!;
  let saToken: string;

  /** A kubeconfig file for the shared cluster with `user` as its user entry. */
  const kubeconfigWith = (name: string, user: Record<string, unknown>): string => {
    const path = join(dir, `${name}.yaml`);
    const exported = JSON.parse(admin.exportConfig()) as { clusters: unknown[] };
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: exported.clusters,
        users: [{ name, user }],
        contexts: [{ name, context: { cluster: cluster.name, user: name } }],
        'current-context': name,
      }),
    );
    return path;
  };

  beforeAll(async () => {
    const kube = kubeClientFor(admin);
    await createObject(
      kube,
      { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: namespace },
      },
    );
    await createObject(
      kube,
      { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'robot', namespace },
      },
    );
    const sa = await saKubeConfig(namespace, 'robot');
    saToken = sa.getCurrentUser()!.token!;
  });
  afterAll(async () => {
    await deleteIfExists(kubeClientFor(admin), { apiVersion: 'v1', kind: 'Namespace', name: namespace });
  });

  it('reads a token file again when the server answers 401 (a rotated ServiceAccount token)', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'not-a-valid-token\n');
    const kube = new KubeClient(loadKubeConnection({ kubeconfig: kubeconfigWith('file', { tokenFile }) }));
    const err = await review(kube).catch((e: unknown) => e);
    expect(statusCodeOf(err)).toBe(401);
    writeFileSync(tokenFile, `${saToken}\n`);
    // The stale token is still cached: the first answer is 401, the retry reads the file again.
    expect((await review(kube)).status?.userInfo?.username).toBe(`system:serviceaccount:${namespace}:robot`);
    kube.close();
  });

  it('runs an exec plugin for a token (client.authentication.k8s.io/v1 ExecCredential)', async () => {
    const plugin = join(dir, 'plugin.sh');
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: saToken, expirationTimestamp: new Date(Date.now() + 3_600_000).toISOString() },
    };
    writeFileSync(
      plugin,
      `#!/bin/sh\ntest -n "$KUBERNETES_EXEC_INFO" || exit 3\necho '${JSON.stringify(credential)}'\n`,
    );
    chmodSync(plugin, 0o755);
    const path = kubeconfigWith('exec', {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './plugin.sh' },
    });
    const kube = new KubeClient(loadKubeConnection({ kubeconfig: path }));
    expect(await whoAmI(kube)).toBe(`system:serviceaccount:${namespace}:robot`);
    kube.close();
  });

  it('impersonates a user with several groups and extras (one header line per value)', async () => {
    const exported = JSON.parse(admin.exportConfig()) as { users: Array<{ user: Record<string, unknown> }> };
    const path = kubeconfigWith('imp', {
      ...exported.users[0]!.user,
      as: 'alice',
      'as-groups': ['sre', 'dev'],
      'as-user-extra': { 'example.com/scopes': ['one', 'two'] },
    });
    const kube = new KubeClient(loadKubeConnection({ kubeconfig: path }));
    const info = (await review(kube)).status?.userInfo;
    expect(info?.username).toBe('alice');
    expect(info?.groups).toEqual(expect.arrayContaining(['sre', 'dev']));
    kube.close();
  });

  it('turns error statuses into KubeApiError with the server’s reason and message', async () => {
    const kube = new KubeClient(loadKubeConnection({ kubeconfig: clusterKubeconfig() }));
    expect(await readObject(kube, CONFIG_MAPS, namespace, 'missing')).toBeUndefined();
    const err = await kube.request('GET', resourcePath(CONFIG_MAPS, { namespace, name: 'missing' })).catch((e) => e);
    expect(isNotFound(err)).toBe(true);
    expect(apiErrorMessage(err)).toBe('404 NotFound: configmaps "missing" not found');
    const invalid = await createObject(kube, CONFIG_MAPS, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'Not_A_Name', namespace },
    }).catch((e: unknown) => e);
    expect(statusCodeOf(invalid)).toBe(422);
    expect(apiErrorMessage(invalid)).toContain('422 Invalid: ConfigMap "Not_A_Name" is invalid');
    kube.close();
  });

  it('watches: events as they happen, the end of the stream, an error status for a bad request', async () => {
    const kube = new KubeClient(loadKubeConnection({ kubeconfig: clusterKubeconfig() }));
    const events: string[] = [];
    let ended: unknown = 'not yet';
    const controller = await kube.watch(
      resourcePath(CONFIG_MAPS, { namespace }),
      { labelSelector: 'watched=yes', timeoutSeconds: 30 },
      (type, obj) => events.push(`${type} ${(obj as { metadata?: { name?: string } }).metadata?.name}`),
      (err) => {
        ended = err;
      },
    );
    await createObject(kube, CONFIG_MAPS, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'seen', namespace, labels: { watched: 'yes' } },
    });
    await createObject(kube, CONFIG_MAPS, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'unseen', namespace, labels: { watched: 'no' } },
    });
    await expect.poll(() => events).toEqual(['ADDED seen']);
    controller.abort();
    await expect.poll(() => ended).not.toBe('not yet');

    let failed: unknown;
    await kube.watch(
      resourcePath(CONFIG_MAPS, { namespace }),
      { labelSelector: '!!bad' },
      () => {},
      (err) => {
        failed = err;
      },
    );
    await expect.poll(() => statusCodeOf(failed)).toBe(400);
    kube.close();
  });

  it('keeps connections alive: at most one per request in flight', async () => {
    let sockets = 0;
    const onSocket = () => void sockets++;
    subscribe('net.client.socket', onSocket);
    try {
      const kube = new KubeClient(loadKubeConnection({ kubeconfig: clusterKubeconfig() }));
      for (let i = 0; i < 20; i++) await readObject(kube, CONFIG_MAPS, namespace, 'seen');
      await Promise.all(Array.from({ length: 4 }, () => readObject(kube, CONFIG_MAPS, namespace, 'seen')));
      expect(sockets).toBeGreaterThan(0);
      expect(sockets).toBeLessThanOrEqual(4);
      kube.close();
    } finally {
      unsubscribe('net.client.socket', onSocket);
    }
  });
});
