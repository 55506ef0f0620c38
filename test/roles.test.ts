// Who may do what (README "Who may do what", docs/design.md §9), on the real API server with the chart's
// RENDERED user-facing ClusterRoles, aggregated into view / edit / admin by the real kube-controller-manager,
// and impersonated users bound the way a cluster admin would bind them. The operator and the gateway run for
// real: "a key cannot call a model its team lacks" is observed at the gateway, not inferred from RBAC. (The
// operator here watches one namespace; that a wider same-named Team elsewhere is ignored even by a cluster-wide
// cache is operator/apikey/team-namespace.test.ts.)
import {
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { ANNOTATIONS, API_VERSION, GROUP, KINDS, LABELS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { startDemoUpstream, type DemoUpstream } from '../gateway/demo-upstream.ts';
import { runGateway, type RunningGateway } from '../gateway/main.ts';
import { patchMetadata } from '../kube/apply.ts';
import {
  adminKubeConfig,
  clusterKubeconfig,
  clusterKubectl,
  hasCluster,
  httpStatusOf,
  impersonatedKubeConfig,
} from './support/cluster.ts';
import { ensureHelm, renderChart, type K8sObject } from './support/helm.ts';
import { eventually, startTestOperator, type TestOperator } from './support/operator.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const helm = await ensureHelm();
const RUN = Math.random().toString(36).slice(2, 7);
const RELEASE = `roles${RUN}`;
const NS = `roles-${RUN}`;
const OTHER = `roles-other-${RUN}`;
const RECORDS = `roles-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const TEAMS = { group: GROUP, version: VERSION, plural: KINDS.team.plural };
const ROLE = {
  viewer: `${RELEASE}-nemokeys-key-viewer`,
  editor: `${RELEASE}-nemokeys-key-editor`,
  teamAdmin: `${RELEASE}-nemokeys-team-admin`,
};
const USER = { dev: `dev-${RUN}`, sre: `sre-${RUN}`, nsAdmin: `nsadmin-${RUN}`, platform: `platform-${RUN}` };
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const userRoles = (objs: K8sObject[]) =>
  objs.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'user-roles');
const RBAC_GROUP = 'rbac.authorization.k8s.io';
const clusterRole = (name: string) => ({ apiGroup: RBAC_GROUP, kind: 'ClusterRole', name });
const userSubject = (name: string) => [{ apiGroup: RBAC_GROUP, kind: 'User', name }];
type KeyList = { items: { metadata: { name: string }; status?: ApiKeyStatus }[] };
const aggregation = (o: K8sObject) =>
  Object.keys(o.metadata.labels ?? {})
    .filter((l) => l.startsWith('rbac.authorization.k8s.io/aggregate-to-'))
    .map((l) => l.split('aggregate-to-')[1])
    .sort();

describe.skipIf(!helm)('user-facing roles as rendered', () => {
  it('three ClusterRoles: viewer → view/edit/admin, editor → edit/admin, team admin nowhere; no Secrets', async () => {
    const roles = userRoles(await renderChart(helm!));
    expect(Object.fromEntries(roles.map((r) => [r.metadata.name, aggregation(r)]))).toEqual({
      'nk-nemokeys-key-viewer': ['admin', 'edit', 'view'],
      'nk-nemokeys-key-editor': ['admin', 'edit'],
      'nk-nemokeys-team-admin': [],
    });
    for (const r of roles) {
      expect(r.kind).toBe('ClusterRole');
      for (const rule of r.rules as { apiGroups: string[]; resources: string[] }[]) {
        expect(rule.apiGroups).toEqual([GROUP]); // nothing but our own kinds: no Secrets, no status writes
        expect(rule.resources.every((x) => !x.includes('/'))).toBe(true);
      }
    }
  });

  it('values switch each role off and choose its aggregation; the schema rejects unknown targets', async () => {
    const objs = userRoles(
      await renderChart(helm!, {
        set: { 'userRoles.teamAdmin.create': false, 'userRoles.keyEditor.aggregateTo': '{admin}' },
      }),
    );
    expect(Object.fromEntries(objs.map((r) => [r.metadata.name, aggregation(r)]))).toEqual({
      'nk-nemokeys-key-viewer': ['admin', 'edit', 'view'],
      'nk-nemokeys-key-editor': ['admin'],
    });
    await expect(renderChart(helm!, { set: { 'userRoles.keyViewer.aggregateTo': '{cluster-admin}' } })).rejects.toThrow(
      /aggregateTo/,
    );
  });
});

describe.skipIf(!helm || !hasCluster())('who may do what, on the real API server', () => {
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const custom = admin.makeApiClient(CustomObjectsApi);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const as = (user: string) => impersonatedKubeConfig(user);
  let op: TestOperator;
  let gw: RunningGateway;
  let upstream: DemoUpstream;

  const bind = (user: string, role: string) =>
    rbac.createNamespacedRoleBinding({
      namespace: NS,
      body: { metadata: { name: `${user}-${role}` }, roleRef: clusterRole(role), subjects: userSubject(user) },
    });
  const createKey = (kc: KubeConfig, name: string, spec: Record<string, unknown>, namespace = NS) =>
    kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...AK,
      namespace,
      body: { apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name }, spec },
    });
  const patchKeySpec = (kc: KubeConfig, name: string, spec: Record<string, unknown>) =>
    kc
      .makeApiClient(CustomObjectsApi)
      .patchNamespacedCustomObject({ ...AK, namespace: NS, name, body: { spec } }, mergePatch);
  const patchTeam = (kc: KubeConfig, name: string, spec: Record<string, unknown>, namespace = NS) =>
    kc
      .makeApiClient(CustomObjectsApi)
      .patchNamespacedCustomObject({ ...TEAMS, namespace, name, body: { spec } }, mergePatch);
  const rotate = (kc: KubeConfig, name: string, value: string) =>
    patchMetadata(
      kubeClientFor(kc),
      { apiVersion: API_VERSION, kind: 'ApiKey', namespace: NS, name },
      { annotations: { [ANNOTATIONS.rotate]: value } },
      { fieldManager: 'roles-test' },
    );
  const listKeys = async (kc: KubeConfig) =>
    (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ ...AK, namespace: NS })) as KeyList;
  const status = async (name: string) =>
    ((await custom.getNamespacedCustomObject({ ...AK, namespace: NS, name })) as { status?: ApiKeyStatus }).status;
  const condition = (s: ApiKeyStatus | undefined, type: string) => s?.conditions?.find((c) => c.type === type);
  /** The key the workload would read, read as the namespace's edit user (edit may read Secrets: it runs workloads). */
  const keyOf = (name: string, not?: string) =>
    eventually(
      async () => {
        const s = await as(USER.dev)
          .makeApiClient(CoreV1Api)
          .readNamespacedSecret({ namespace: NS, name })
          .catch(() => undefined);
        const key = s?.data?.['api-key'] ? Buffer.from(s.data['api-key'], 'base64').toString() : undefined;
        return key && key !== not ? key : undefined;
      },
      30_000,
      `key in Secret ${name}`,
    );
  const chat = async (key: string, model: string) => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.arrayBuffer();
    return r.status;
  };
  const gatewaySays = (key: string, model: string, code: number) =>
    eventually(async () => (await chat(key, model)) === code, 30_000, `gateway answers ${code} for ${model}`);

  beforeAll(async () => {
    const roles = userRoles(await renderChart(helm!, { release: RELEASE, namespace: RECORDS }));
    expect(roles.map((r) => r.metadata.name).sort()).toEqual(Object.values(ROLE).sort());
    await installCrds(
      { kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() },
      [crdYaml(), ...roles.map((r) => stringify(r))].join('---\n'),
    );
    for (const name of [NS, OTHER]) await core.createNamespace({ body: { metadata: { name } } });
    const team = (name: string, namespace: string, allowedModels: string[]) =>
      custom.createNamespacedCustomObject({
        ...TEAMS,
        namespace,
        body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name }, spec: { allowedModels } },
      });
    await team('payments', NS, ['gpt-4o-mini']);
    await team('wide', OTHER, ['*']); // another namespace's generous Team
    await bind(USER.dev, 'edit');
    await bind(USER.sre, 'view');
    await bind(USER.nsAdmin, 'admin');
    await bind(USER.platform, ROLE.teamAdmin);
    // The controller-manager aggregates the chart's roles into edit/view.
    await eventually(
      async () =>
        (await httpStatusOf(
          as(USER.dev)
            .makeApiClient(CustomObjectsApi)
            .listNamespacedCustomObject({ ...AK, namespace: NS }),
        )) === 200,
      30_000,
      'edit aggregates the key roles',
    );
    op = await startTestOperator({ recordsNamespace: RECORDS, watchNamespace: NS });
    upstream = await startDemoUpstream();
    gw = await runGateway({
      upstream: upstream.url,
      recordsNamespace: RECORDS,
      kubeConfig: admin,
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      gatewayId: `gw-${RUN}`,
      reportIntervalMs: 200,
      logger: pino({ level: 'silent' }),
    });
    await gw.synced;
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await op?.stop();
    await upstream?.close();
    for (const name of Object.values(ROLE)) await rbac.deleteClusterRole({ name }).catch(() => {});
  });

  it('a namespace edit user manages, rotates and revokes ApiKeys in their namespace', async () => {
    const dev = as(USER.dev);
    await createKey(dev, 'checkout', { team: 'payments' });
    const first = await keyOf('checkout');
    await gatewaySays(first, 'gpt-4o-mini', 200);
    expect((await listKeys(dev)).items.map((i) => i.metadata.name)).toContain('checkout');

    await rotate(dev, 'checkout', `r-${RUN}`);
    const second = await keyOf('checkout', first);
    await gatewaySays(second, 'gpt-4o-mini', 200);

    await patchKeySpec(dev, 'checkout', { revoked: true });
    await gatewaySays(second, 'gpt-4o-mini', 401);
    await gatewaySays(first, 'gpt-4o-mini', 401);
    await eventually(
      async () => condition(await status('checkout'), 'Revoked')?.status === 'True',
      30_000,
      'Revoked=True',
    );

    await dev.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ ...AK, namespace: NS, name: 'checkout' });
    await eventually(async () => (await httpStatusOf(status('checkout'))) === 404, 30_000, 'ApiKey deleted');
  });

  it('the edit user cannot change the Team, nor get a model the team lacks: new Team, other namespace, spec edit', async () => {
    const dev = as(USER.dev);
    const devCustom = dev.makeApiClient(CustomObjectsApi);
    // The Team itself: no write of any kind.
    expect(await httpStatusOf(patchTeam(dev, 'payments', { allowedModels: ['*'] }))).toBe(403);
    const payments = { ...TEAMS, namespace: NS, name: 'payments' };
    expect(
      await httpStatusOf(
        devCustom.patchNamespacedCustomObjectStatus({ ...payments, body: { status: {} } }, mergePatch),
      ),
    ).toBe(403);
    expect(await httpStatusOf(devCustom.deleteNamespacedCustomObject(payments))).toBe(403);
    // A new Team.
    expect(
      await httpStatusOf(
        devCustom.createNamespacedCustomObject({
          ...TEAMS,
          namespace: NS,
          body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name: 'mine' }, spec: { allowedModels: ['*'] } },
        }),
      ),
    ).toBe(403);
    // Another namespace's Team: spec.team cannot name a namespace, and a same-named Team elsewhere is not found.
    expect(await httpStatusOf(createKey(dev, 'borrowed-path', { team: `${OTHER}/wide` }))).toBe(422);
    expect(await httpStatusOf(patchTeam(dev, 'wide', { allowedModels: ['gpt-4o'] }, OTHER))).toBe(403);
    await createKey(dev, 'borrowed', { team: 'wide' });
    await eventually(
      async () => condition(await status('borrowed'), 'Ready')?.reason === 'TeamNotFound',
      30_000,
      'TeamNotFound',
    );
    expect(await httpStatusOf(core.readNamespacedSecret({ namespace: NS, name: 'borrowed' }))).toBe(404);
    // The records the gateway trusts live in the records namespace, out of the edit user's reach.
    expect(
      await httpStatusOf(
        dev.makeApiClient(CoreV1Api).createNamespacedSecret({
          namespace: RECORDS,
          body: { metadata: { name: 'forged' }, stringData: { x: 'y' } },
        }),
      ),
    ).toBe(403);
    // Spec edits: asking for more than the team allows yields nothing more.
    await createKey(dev, 'greedy', { team: 'payments', allowedModels: ['gpt-4o'] });
    await eventually(
      async () => condition(await status('greedy'), 'Ready')?.reason === 'NoAllowedModels',
      30_000,
      'NoAllowedModels',
    );
    expect(await httpStatusOf(core.readNamespacedSecret({ namespace: NS, name: 'greedy' }))).toBe(404);
    await createKey(dev, 'edited', { team: 'payments' });
    const key = await keyOf('edited');
    await gatewaySays(key, 'gpt-4o-mini', 200);
    await patchKeySpec(dev, 'edited', { allowedModels: ['gpt-4o-mini', 'gpt-4o'] });
    await eventually(async () => (await status('edited'))?.observedGeneration === 2, 30_000, 'spec edit reconciled');
    expect(await chat(key, 'gpt-4o')).toBe(403);
    expect(await chat(key, 'gpt-4o-mini')).toBe(200);
  });

  it('escalation prevention: a namespace admin cannot bind itself the team admin role or grant Team writes', async () => {
    const nsRbac = as(USER.nsAdmin).makeApiClient(RbacAuthorizationV1Api);
    const subjects = userSubject(USER.nsAdmin);
    expect(
      await httpStatusOf(
        nsRbac.createNamespacedRoleBinding({
          namespace: NS,
          body: { metadata: { name: 'grab' }, roleRef: clusterRole(ROLE.teamAdmin), subjects },
        }),
      ),
    ).toBe(403);
    expect(
      await httpStatusOf(
        nsRbac.createNamespacedRole({
          namespace: NS,
          body: { metadata: { name: 'grab' }, rules: [{ apiGroups: [GROUP], resources: ['teams'], verbs: ['patch'] }] },
        }),
      ),
    ).toBe(403);
    // What it holds it may hand on (so the refusals above are about Teams, not about RoleBindings).
    expect(
      await httpStatusOf(
        nsRbac.createNamespacedRoleBinding({
          namespace: NS,
          body: { metadata: { name: 'share-editor' }, roleRef: clusterRole(ROLE.editor), subjects },
        }),
      ),
    ).toBe(200);
    expect(await httpStatusOf(patchTeam(as(USER.nsAdmin), 'payments', { allowedModels: ['*'] }))).toBe(403);
    // The API server's own authorizer agrees, for every write on Teams and their status, for admin and edit alike;
    // and both do hold every write on ApiKeys (so these are refusals about Teams, not a broken binding).
    for (const user of [USER.nsAdmin, USER.dev]) {
      const review = as(user).makeApiClient(AuthorizationV1Api);
      const allowed = async (resource: string, verb: string, subresource?: string) =>
        (
          await review.createSelfSubjectAccessReview({
            body: { spec: { resourceAttributes: { group: GROUP, resource, subresource, verb, namespace: NS } } },
          })
        ).status?.allowed;
      for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection', 'escalate', 'bind']) {
        expect(await allowed('teams', verb), `${user} ${verb} teams`).toBe(false);
        expect(await allowed('teams', verb, 'status'), `${user} ${verb} teams/status`).toBe(false);
      }
      for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection']) {
        expect(await allowed('apikeys', verb), `${user} ${verb} apikeys`).toBe(true);
      }
      expect(await allowed('apikeys', 'patch', 'status'), `${user} patch apikeys/status`).toBe(false);
    }
  });

  it('a view user lists keys and their usage, and cannot read a workload Secret or rotate', async () => {
    const dev = as(USER.dev);
    await createKey(dev, 'observed', { team: 'payments' });
    const key = await keyOf('observed');
    await gatewaySays(key, 'gpt-4o-mini', 200);
    const sre = as(USER.sre);
    const sreCustom = sre.makeApiClient(CustomObjectsApi);
    const usage = await eventually(
      async () => {
        const u = (await listKeys(sre)).items.find((i) => i.metadata.name === 'observed')?.status?.usage;
        return (u?.requests ?? 0) >= 1 && u;
      },
      30_000,
      'usage visible to the viewer',
    );
    expect(usage).toMatchObject({ requests: expect.any(Number) });
    expect(await httpStatusOf(sreCustom.getNamespacedCustomObject({ ...TEAMS, namespace: NS, name: 'payments' }))).toBe(
      200,
    );
    const sreCore = sre.makeApiClient(CoreV1Api);
    expect(await httpStatusOf(sreCore.readNamespacedSecret({ namespace: NS, name: 'observed' }))).toBe(403);
    expect(await httpStatusOf(sreCore.listNamespacedSecret({ namespace: NS }))).toBe(403);
    expect(await httpStatusOf(rotate(sre, 'observed', 'sre'))).toBe(403);
  });

  it('a team admin widens a team and the keys follow, at the gateway', async () => {
    await createKey(as(USER.dev), 'follower', { team: 'payments' });
    const key = await keyOf('follower');
    await gatewaySays(key, 'gpt-4o-mini', 200);
    expect(await chat(key, 'gpt-4o')).toBe(403);
    const platform = as(USER.platform);
    expect(await httpStatusOf(patchTeam(platform, 'payments', { allowedModels: ['gpt-4o-mini', 'gpt-4o'] }))).toBe(200);
    await gatewaySays(key, 'gpt-4o', 200);
    // The team admin decides scopes; it does not get the keys themselves.
    const platformCore = platform.makeApiClient(CoreV1Api);
    expect(await httpStatusOf(platformCore.readNamespacedSecret({ namespace: NS, name: 'follower' }))).toBe(403);
  });

  it('deleting the namespace completes: its keys are revoked at the gateway and their records removed', async () => {
    const key = await keyOf('follower');
    await gatewaySays(key, 'gpt-4o-mini', 200);
    const records = async () =>
      (
        await core.listNamespacedSecret({
          namespace: RECORDS,
          labelSelector: `${LABELS.record}=true,${LABELS.apiKeyNamespace}=${NS}`,
        })
      ).items.length;
    expect(await records()).toBeGreaterThan(0);
    await core.deleteNamespace({ name: NS });
    // The namespace controller deletes the ApiKeys; the operator's finalizer removes their records first.
    await eventually(
      async () => (await httpStatusOf(core.readNamespace({ name: NS }))) === 404,
      60_000,
      'namespace gone',
    );
    expect(await records()).toBe(0);
    await gatewaySays(key, 'gpt-4o-mini', 401);
  });
});
