// rotation.restartTargets on the real API server: the operator stamps the pod template annotation
// keys.nemorouter.io/restarted-for-key-id on Deployments / StatefulSets / DaemonSets once per change of
// the key in their Secret (metadata.generation moves by one, and the controller-manager's deployment
// controller rolls a Deployment out: a new ReplicaSet whose pods carry the new key id); resyncs write nothing; ApiKeys sharing a target rotated
// together cause ONE patch; a missing target is an Event and a condition, not an error loop.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1ObjectMeta, type V1ReplicaSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { ANNOTATIONS, API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { patchMetadata } from '../kube/apply.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { eventually, startTestOperator, type TestOperator } from './support/operator.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `rot-rt-${RUN}`;
const RECORDS = `rot-rt-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
type Kind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

describe.skipIf(!hasCluster())('restart targets on a real API server', () => {
  let op: TestOperator;
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const status = async (name: string) =>
    ((await custom.getNamespacedCustomObject({ ...AK, namespace: NS, name })) as { status?: ApiKeyStatus }).status;
  const createKey = (name: string, targets: { kind: Kind; name: string }[]) =>
    custom.createNamespacedCustomObject({
      ...AK,
      namespace: NS,
      body: {
        apiVersion: API_VERSION,
        kind: 'ApiKey',
        metadata: { name },
        spec: { team: 'payments', rotation: { restartTargets: targets } },
      },
    });
  const secretKeyId = async (name: string) =>
    (await core.readNamespacedSecret({ namespace: NS, name })).metadata?.annotations?.[ANNOTATIONS.keyId];
  const issued = (name: string, not?: string) =>
    eventually(
      async () => {
        const id = await secretKeyId(name).catch(() => undefined);
        return id && id !== not ? id : undefined;
      },
      30_000,
      `key in Secret ${name}`,
    );
  const rotate = (name: string) =>
    patchMetadata(
      kubeClientFor(kc),
      { apiVersion: API_VERSION, kind: 'ApiKey', namespace: NS, name },
      { annotations: { [ANNOTATIONS.rotate]: `r-${Date.now()}` } },
      { fieldManager: 'rotation-test' },
    );
  const template = (app: string) => ({
    selector: { matchLabels: { app } },
    template: {
      metadata: { labels: { app } },
      spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
    },
  });
  const create = (kind: Kind, name: string) => {
    const body = { metadata: { name }, spec: template(name) };
    if (kind === 'Deployment') return apps.createNamespacedDeployment({ namespace: NS, body });
    if (kind === 'StatefulSet')
      return apps.createNamespacedStatefulSet({
        namespace: NS,
        body: { ...body, spec: { ...body.spec, serviceName: name } },
      });
    return apps.createNamespacedDaemonSet({ namespace: NS, body });
  };
  const read = async (
    kind: Kind,
    name: string,
  ): Promise<{ metadata?: V1ObjectMeta; annotation: string | undefined }> => {
    const o =
      kind === 'Deployment'
        ? await apps.readNamespacedDeployment({ namespace: NS, name })
        : kind === 'StatefulSet'
          ? await apps.readNamespacedStatefulSet({ namespace: NS, name })
          : await apps.readNamespacedDaemonSet({ namespace: NS, name });
    return { metadata: o.metadata, annotation: o.spec?.template.metadata?.annotations?.[ANNOTATIONS.restartedFor] };
  };
  const annotated = (kind: Kind, name: string, value: string) =>
    eventually(
      async () => {
        const o = await read(kind, name);
        return o.annotation === value ? o : undefined;
      },
      30_000,
      `${kind}/${name} annotated ${value}`,
    );
  const counter = async (metric: string, controller: string) =>
    (await op.metricsText())
      .split('\n')
      .filter((l) => l.startsWith(`${metric}{`) && l.includes(`controller="${controller}"`))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  const enqueueTarget = (key: string) =>
    (op.enqueue as (controller: string, key: string) => void)('restart-targets', key);
  const events = async (involved: string, reason: string) =>
    (await core.listNamespacedEvent({ namespace: NS })).items.filter(
      (e) => e.involvedObject.name === involved && e.reason === reason,
    );

  beforeAll(async () => {
    op = await startTestOperator({ recordsNamespace: RECORDS });
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await custom.createNamespacedCustomObject({
      ...AK,
      plural: KINDS.team.plural,
      namespace: NS,
      body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name: 'payments' }, spec: { allowedModels: ['*'] } },
    });
  });
  afterAll(async () => {
    await op?.stop();
  });

  it('a Deployment gets the key id once per rotation; resyncs make no write', async () => {
    await create('Deployment', 'web');
    await createKey('solo', [{ kind: 'Deployment', name: 'web' }]);
    const k1 = await issued('solo');
    const first = await annotated('Deployment', 'web', k1);
    await rotate('solo');
    const k2 = await issued('solo', k1);
    const second = await annotated('Deployment', 'web', k2);
    expect(second.metadata!.generation).toBe(first.metadata!.generation! + 1); // exactly one template change
    // The rollout a real cluster does: one ReplicaSet per pod template (as created, then each key id).
    const keyIdOf = (rs: V1ReplicaSet) =>
      rs.spec?.template?.metadata?.annotations?.[ANNOTATIONS.restartedFor] ?? 'none';
    const replicaSets = await eventually(
      async () => {
        const rs = (await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=web' })).items;
        return rs.some((r) => keyIdOf(r) === k2) ? rs : undefined;
      },
      30_000,
      'a new ReplicaSet for Deployment web carrying the new key id',
    );
    expect(replicaSets.map(keyIdOf).sort()).toEqual(['none', k1, k2].sort());
    expect(replicaSets.every((rs) => rs.metadata?.ownerReferences?.[0]?.name === 'web')).toBe(true);
    // The deployment controller writes the rollout into .status; once that has settled, nothing else may write.
    const settled = await eventually(
      async () => {
        const a = await apps.readNamespacedDeployment({ namespace: NS, name: 'web' });
        await new Promise((r) => setTimeout(r, 1000));
        const b = await apps.readNamespacedDeployment({ namespace: NS, name: 'web' });
        return (
          a.status?.observedGeneration === a.metadata?.generation &&
          a.metadata?.resourceVersion === b.metadata?.resourceVersion &&
          b
        );
      },
      30_000,
      'Deployment web status settled',
    );
    // resyncs: the restart-target controller runs again, and changes nothing
    for (let i = 0; i < 3; i++) {
      const n = await counter('nemokeys_operator_reconcile_total', 'restart-targets');
      enqueueTarget(`${NS}/Deployment/web`);
      await eventually(
        async () => (await counter('nemokeys_operator_reconcile_total', 'restart-targets')) > n,
        10_000,
        'a restart-target reconcile',
      );
    }
    const after = await read('Deployment', 'web');
    expect(after.metadata!.resourceVersion).toBe(settled.metadata!.resourceVersion);
    expect((await events('solo', 'RestartTriggered')).map((e) => e.message)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`=${k1} because`),
        expect.stringContaining(`=${k2} (was ${k1}) because`),
      ]),
    );
    expect((await events('solo', 'RestartTriggered')).every((e) => e.count === 1)).toBe(true);
    expect((await status('solo'))!.conditions).toContainEqual(
      expect.objectContaining({ type: 'RestartTargets', status: 'True', reason: 'TargetsFound' }),
    );
  });

  it('two ApiKeys sharing a StatefulSet, rotated together: one patch carrying both new key ids', async () => {
    await create('StatefulSet', 'shared');
    await createKey('alpha', [{ kind: 'StatefulSet', name: 'shared' }]);
    await createKey('beta', [{ kind: 'StatefulSet', name: 'shared' }]);
    const [a1, b1] = [await issued('alpha'), await issued('beta')];
    const before = await annotated('StatefulSet', 'shared', [a1, b1].sort().join(','));
    await Promise.all([rotate('alpha'), rotate('beta')]);
    const [a2, b2] = [await issued('alpha', a1), await issued('beta', b1)];
    const after = await annotated('StatefulSet', 'shared', [a2, b2].sort().join(','));
    expect(after.metadata!.generation).toBe(before.metadata!.generation! + 1);
  });

  it('a missing DaemonSet: Warning Event + RestartTargets=False, no errors; once created it is annotated', async () => {
    await createKey('lonely', [{ kind: 'DaemonSet', name: 'agent' }]);
    const id = await issued('lonely');
    const cond = await eventually(
      async () =>
        (await status('lonely'))?.conditions?.find((c) => c.type === 'RestartTargets' && c.status === 'False'),
      30_000,
      'RestartTargets=False',
    );
    expect(cond).toMatchObject({
      reason: 'TargetNotFound',
      message: expect.stringMatching(
        /DaemonSet\/agent not found in namespace .*: create it or fix spec.rotation.restartTargets/,
      ),
    });
    expect((await status('lonely'))!.conditions).toContainEqual(
      expect.objectContaining({ type: 'Ready', status: 'True' }),
    );
    await eventually(
      async () => (await events('lonely', 'RestartTargetNotFound')).length === 1,
      10_000,
      'RestartTargetNotFound Event',
    );
    enqueueTarget(`${NS}/DaemonSet/agent`);
    enqueueTarget(`${NS}/DaemonSet/agent`);
    expect(await counter('nemokeys_operator_reconcile_errors_total', 'restart-targets')).toBe(0);
    await create('DaemonSet', 'agent');
    enqueueTarget(`${NS}/DaemonSet/agent`); // instead of waiting for the 5-minute recheck
    await annotated('DaemonSet', 'agent', id);
    await eventually(
      async () => (await status('lonely'))?.conditions?.find((c) => c.type === 'RestartTargets' && c.status === 'True'),
      30_000,
      'RestartTargets=True',
    );
    expect(await events('lonely', 'RestartTargetNotFound')).toHaveLength(1);
  });
});
