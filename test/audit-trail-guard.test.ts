// The audit trail guard (docs/design.md §8) on the real API server, with the chart's RENDERED
// ValidatingAdmissionPolicy: a namespace `edit` user (impersonated) cannot patch, replace, delete, relabel or
// forge a trail; the operator (running as the chart's ServiceAccount) still writes entries; the garbage
// collector still removes the trail of a deleted ApiKey and namespace deletion still completes. The same
// attacks succeed in a namespace the binding does not cover: that is what the policy changes.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { runHistory } from '../cli/keys/history.ts';
import type { Io } from '../cli/keys/io.ts';
import { auditTrailGuard } from '../controlplane/audit-trail-guard.ts';
import { installCrds, serviceAccountKubeConfig } from '../controlplane/controlplane.ts';
import type { TrailEntry } from '../operator/audit/trail.ts';
import { TRAIL_LABEL, trailName } from '../operator/audit/trail-store.ts';
import type { RunningOperator } from '../operator/main.ts';
import {
  adminKubeConfig,
  clusterKubeconfig,
  clusterKubectl,
  hasCluster,
  httpStatusOf,
  impersonatedKubeConfig,
} from './support/cluster.ts';
import { ensureHelm, renderChart, type K8sObject } from './support/helm.ts';
import { createTeam, eventually, startShippedOperator } from './support/operator.ts';

const helm = await ensureHelm();
const RUN = Math.random().toString(36).slice(2, 7);
const RELEASE = `tg${RUN}`;
const OPERATOR_NS = `tg-system-${RUN}`;
const GUARDED = `tg-guarded-${RUN}`;
const UNGUARDED = `tg-unguarded-${RUN}`;
const RECORDS = `tg-records-${RUN}`;
const DEV = `dev-${RUN}`;
const SELECTOR_LABEL = 'nemokeys-test/audit-trail-guard';
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const guardObjects = (objs: K8sObject[]) =>
  objs.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'audit-trail-guard');

describe.skipIf(!helm)('audit trail guard as rendered', () => {
  it('one source: the chart renders files/audit-trail-guard.yaml for the operator ServiceAccount, as `nemokeys dev` does', async () => {
    const rendered = guardObjects(await renderChart(helm!, { namespace: 'nk-ns' }));
    expect(rendered.map((o) => o.kind)).toEqual(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    const ours = auditTrailGuard({
      name: 'nk-nemokeys-audit-trail-guard',
      operatorUser: 'system:serviceaccount:nk-ns:nk-nemokeys-operator',
    });
    expect(rendered.map((o) => o.spec)).toEqual(ours.map((o) => o.spec));
    expect(JSON.stringify(rendered[0]!.spec)).toContain(`'${TRAIL_LABEL}' in oldObject.metadata.labels`);
    expect(guardObjects(await renderChart(helm!, { set: { 'auditTrailGuard.enabled': false } }))).toEqual([]);
  });
});

describe.skipIf(!helm || !hasCluster())('audit trail guard on the real API server', () => {
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const dev = impersonatedKubeConfig(DEV);
  const devCore = dev.makeApiClient(CoreV1Api);
  const custom = admin.makeApiClient(CustomObjectsApi);
  let op: RunningOperator | undefined;
  let kubeconfigFile: string;

  const history = async (namespace: string, name: string): Promise<TrailEntry[]> => {
    let out = '';
    const io: Io = {
      out: (t) => {
        out += t;
      },
      err: () => {},
      now: () => new Date(),
      sleep: async () => {},
    };
    await runHistory(name, { kubeconfig: clusterKubeconfig(), namespace, output: 'json' }, io);
    return JSON.parse(out) as TrailEntry[];
  };
  // Keys are made by the admin: what `edit` may do with ApiKeys is test/roles.test.ts; here only trails matter.
  const createKey = (namespace: string, name: string) =>
    custom.createNamespacedCustomObject({
      ...AK,
      namespace,
      body: {
        apiVersion: API_VERSION,
        kind: 'ApiKey',
        metadata: { name },
        spec: { team: 'payments', allowedModels: ['*'] },
      },
    });
  const trail = (namespace: string, key: string) =>
    core.readNamespacedConfigMap({ namespace, name: trailName('ApiKey', key) });

  beforeAll(async () => {
    const objs = await renderChart(helm!, {
      release: RELEASE,
      namespace: OPERATOR_NS,
      set: { [`auditTrailGuard.namespaceSelector.matchLabels.${SELECTOR_LABEL.replaceAll('.', '\\.')}`]: RUN },
    });
    const guard = guardObjects(objs);
    expect(guard).toHaveLength(2);
    await installCrds(
      { kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() },
      [crdYaml(), ...guard.map((o) => stringify(o))].join('\n---\n'),
    );
    // The operator runs as the chart's ServiceAccount (RBAC is not what this file tests: cluster-admin).
    const sa = `${RELEASE}-nemokeys-operator`;
    const saKc = await serviceAccountKubeConfig(admin, OPERATOR_NS, sa);
    await admin.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
      body: {
        metadata: { name: `${RELEASE}-operator` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace: OPERATOR_NS }],
      },
    });
    for (const ns of [GUARDED, UNGUARDED]) {
      await core.createNamespace({
        body: { metadata: { name: ns, labels: ns === GUARDED ? { [SELECTOR_LABEL]: RUN } : {} } },
      });
      await createTeam(admin, ns, 'payments');
      await admin.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({
        namespace: ns,
        body: {
          metadata: { name: 'dev-edit' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: DEV }],
        },
      });
    }
    await core.createNamespace({ body: { metadata: { name: RECORDS } } });
    kubeconfigFile = join(tmpdir(), `audit-trail-guard-${RUN}.kubeconfig`);
    writeFileSync(kubeconfigFile, saKc.exportConfig());
    // No audit webhook on the shared control plane: entries are "observed" (field manager), 1 s after the change.
    op = await startShippedOperator({ kubeconfig: kubeconfigFile, recordsNamespace: RECORDS });
  }, 120_000);

  afterAll(async () => {
    for (const ns of [GUARDED, UNGUARDED, RECORDS, OPERATOR_NS])
      await core.deleteNamespace({ name: ns }).catch(() => undefined);
    await op?.stop();
    await admin
      .makeApiClient(RbacAuthorizationV1Api)
      .deleteClusterRoleBinding({ name: `${RELEASE}-operator` })
      .catch(() => undefined);
    const vap = admin.makeApiClient(AdmissionregistrationV1Api);
    const name = `${RELEASE}-nemokeys-audit-trail-guard`;
    await vap.deleteValidatingAdmissionPolicyBinding({ name }).catch(() => undefined);
    await vap.deleteValidatingAdmissionPolicy({ name }).catch(() => undefined);
    rmSync(kubeconfigFile, { force: true });
  });

  it('the operator writes the trail; a namespace edit user cannot patch, replace, delete, relabel or forge it', async () => {
    await createKey(GUARDED, 'app');
    await eventually(
      async () => (await history(GUARDED, 'app')).find((e) => e.action === 'create'),
      30_000,
      'the create entry',
    );
    const name = trailName('ApiKey', 'app');
    const before = await trail(GUARDED, 'app');

    const patched = devCore.patchNamespacedConfigMap(
      { namespace: GUARDED, name, body: { data: { 'entries.json': '[]' } } },
      mergePatch,
    );
    expect(await httpStatusOf(patched)).toBe(403);
    const current = await devCore.readNamespacedConfigMap({ namespace: GUARDED, name }); // reading is fine
    expect(
      await httpStatusOf(
        devCore.replaceNamespacedConfigMap({
          namespace: GUARDED,
          name,
          body: { ...current, data: { 'entries.json': '[]' } },
        }),
      ),
    ).toBe(403);
    expect(
      await httpStatusOf(
        devCore.patchNamespacedConfigMap(
          { namespace: GUARDED, name, body: { metadata: { labels: { [TRAIL_LABEL]: null } } } },
          mergePatch,
        ),
      ),
    ).toBe(403);
    expect(await httpStatusOf(devCore.deleteNamespacedConfigMap({ namespace: GUARDED, name }))).toBe(403);
    expect(
      await httpStatusOf(
        devCore.deleteCollectionNamespacedConfigMap({ namespace: GUARDED, labelSelector: TRAIL_LABEL }),
      ),
    ).toBe(403);
    // A forged trail for a key that has none yet, and any ConfigMap pretending to be a trail.
    const forged = (n: string) =>
      devCore.createNamespacedConfigMap({
        namespace: GUARDED,
        body: { metadata: { name: n, labels: { [TRAIL_LABEL]: 'apikey' } }, data: { 'entries.json': '[]' } },
      });
    expect(await httpStatusOf(forged(trailName('ApiKey', 'later')))).toBe(403);
    expect(await httpStatusOf(forged(`fake-${RUN}`))).toBe(403);
    // The refusal says why; ordinary ConfigMaps are untouched by the guard.
    await expect(devCore.deleteNamespacedConfigMap({ namespace: GUARDED, name })).rejects.toThrow(
      /audit trails: only the nemokeys operator/,
    );
    await devCore.createNamespacedConfigMap({
      namespace: GUARDED,
      body: { metadata: { name: `plain-${RUN}` }, data: { a: '1' } },
    });
    await devCore.deleteNamespacedConfigMap({ namespace: GUARDED, name: `plain-${RUN}` });

    const after = await trail(GUARDED, 'app');
    expect(after.data).toEqual(before.data);
    expect(after.metadata?.labels?.[TRAIL_LABEL]).toBe('apikey');

    // The operator still records the next change.
    await custom.patchNamespacedCustomObject(
      { ...AK, namespace: GUARDED, name: 'app', body: { spec: { allowedModels: ['gpt-4o'] } } },
      mergePatch,
    );
    const edit = await eventually(
      async () => (await history(GUARDED, 'app')).find((e) => e.action === 'edit'),
      30_000,
      'the edit entry',
    );
    expect(edit.fields).toContain('spec.allowedModels');
  });

  it('without the guard (a namespace the binding does not cover) the same user rewrites and deletes the trail', async () => {
    await createKey(UNGUARDED, 'app');
    await eventually(async () => (await history(UNGUARDED, 'app')).length > 0, 30_000, 'the create entry');
    const name = trailName('ApiKey', 'app');
    await devCore.patchNamespacedConfigMap(
      { namespace: UNGUARDED, name, body: { data: { 'entries.json': '[]' } } },
      mergePatch,
    );
    expect(await history(UNGUARDED, 'app')).toEqual([]);
    await devCore.deleteNamespacedConfigMap({ namespace: UNGUARDED, name });
    expect(await httpStatusOf(trail(UNGUARDED, 'app'))).toBe(404);
  });

  it('deleting the ApiKey still removes its trail (garbage collector), orphaning still works, deleting the namespace still completes', async () => {
    await createKey(GUARDED, 'gone');
    await eventually(async () => (await history(GUARDED, 'gone')).length > 0, 30_000, 'the create entry');
    await custom.deleteNamespacedCustomObject({ ...AK, namespace: GUARDED, name: 'gone' });
    await eventually(async () => (await httpStatusOf(trail(GUARDED, 'gone'))) === 404, 120_000, 'the trail collected');

    // Orphaning: the garbage collector patches the trail's ownerReferences away (an UPDATE the guard lets it make).
    await createKey(GUARDED, 'kept');
    await eventually(async () => (await history(GUARDED, 'kept')).length > 0, 30_000, 'the create entry');
    await custom.deleteNamespacedCustomObject({ ...AK, namespace: GUARDED, name: 'kept', propagationPolicy: 'Orphan' });
    await eventually(
      async () =>
        (await httpStatusOf(custom.getNamespacedCustomObject({ ...AK, namespace: GUARDED, name: 'kept' }))) === 404,
      120_000,
      'the ApiKey deleted, orphaning its trail',
    );
    expect((await trail(GUARDED, 'kept')).metadata?.ownerReferences ?? []).toEqual([]);

    // What is left (an orphaned trail among them) goes with the namespace: the namespace controller deletes it.
    expect(
      (await core.listNamespacedConfigMap({ namespace: GUARDED, labelSelector: TRAIL_LABEL })).items.length,
    ).toBeGreaterThan(1);
    // The operator keeps running: its finalizer on the ApiKeys must be released for the namespace to go.
    await core.deleteNamespace({ name: GUARDED });
    await eventually(
      async () => {
        const ns = await core.readNamespace({ name: GUARDED }).catch(() => undefined);
        if (!ns) return true;
        throw new Error(JSON.stringify(ns.status?.conditions?.filter((c) => c.status === 'True')));
      },
      120_000,
      'the namespace deleted',
    );
  }, 420_000);
});
