// kubeconfig `as` + `as-groups` on the real API server: a user whose only RBAC is a RoleBinding to an
// impersonated group can list keys through loadKubeConfig — the loader the CLI, the UI server and the
// operator all use (kube/config.ts) — as kubectl can.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, KINDS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster, httpStatusOf } from './support/cluster.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `imp-${RUN}`;
const SRE = `sre-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };

describe.skipIf(!hasCluster())('kubeconfig impersonation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nemokeys-imp-'));
  const admin = adminKubeConfig();

  /** The admin kubeconfig with the current user acting as `as` (+ extra user fields), written to a file. */
  const kubeconfigAs = (file: string, user: Record<string, unknown>): string => {
    const cfg = parse(readFileSync(clusterKubeconfig(), 'utf8')) as { users: { name: string; user: object }[] };
    const current = admin.getCurrentUser()!.name;
    cfg.users = cfg.users.map((u) => (u.name === current ? { ...u, user: { ...u.user, ...user } } : u));
    const path = join(dir, file);
    writeFileSync(path, stringify(cfg));
    return path;
  };

  beforeAll(async () => {
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: NS,
      body: {
        metadata: { name: 'key-lister' },
        rules: [{ apiGroups: [GROUP], resources: [KINDS.apiKey.plural], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: NS,
      body: {
        metadata: { name: 'sre-lists-keys' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'key-lister' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: SRE }],
      },
    });
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await admin
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: NS })
      .catch(() => {});
  });

  const listKeys = (path: string) =>
    httpStatusOf(
      loadKubeConfig({ kubeconfig: path })
        .makeApiClient(CustomObjectsApi)
        .listNamespacedCustomObject({ ...AK, namespace: NS }),
    );

  it('as + as-groups: the group binding applies (Impersonate-Group is sent)', async () => {
    expect(await listKeys(kubeconfigAs('group.yaml', { as: `dave-${RUN}`, 'as-groups': [SRE] }))).toBe(200);
  });

  it('as alone: the same user without the group is refused', async () => {
    expect(await listKeys(kubeconfigAs('user.yaml', { as: `dave-${RUN}` }))).toBe(403);
  });

  it('as-groups without as is bad input with a clear message', () => {
    expect(() => loadKubeConfig({ kubeconfig: kubeconfigAs('noas.yaml', { 'as-groups': [SRE] }) })).toThrow(
      /as-groups .* need "as"/,
    );
  });
});
