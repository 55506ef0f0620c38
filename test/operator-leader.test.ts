// Two `nemokeys operator` replicas as real child processes with leader election on (the production
// default, default lease timings): exactly one leads and reconciles; SIGKILL the leader → the standby
// takes over once the lease has expired (never before) and reconciles a newly created ApiKey.
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { LEADER_DEFAULTS } from '../operator/runtime/leader.ts';
import { spawnOperator, type OperatorProcess } from '../bench/operator-process.ts';
import { isReady, listApiKeys } from '../bench/operator-state.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster } from './support/cluster.ts';
import { eventually, createTeam } from './support/operator.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `leader-keys-${RUN}`;
const RECORDS = `leader-records-${RUN}`;
const LEASE = `nemokeys-leader-${RUN}`;

const micro = (d: Date | string | undefined) => (d instanceof Date ? d.getTime() : d ? Date.parse(d) : NaN);

describe.skipIf(!hasCluster())('leader election between two operator processes', () => {
  let kc: KubeConfig;
  const operators: OperatorProcess[] = [];
  const start = (identity: string) => {
    const op = spawnOperator({
      kubeconfig: clusterKubeconfig(),
      recordsNamespace: RECORDS,
      leaderElect: true,
      leaseNamespace: RECORDS,
      leaseName: LEASE,
      identity,
    });
    operators.push(op);
    return op;
  };
  const lease = async (): Promise<V1Lease> =>
    kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace: RECORDS });
  const isLeader = async (op: OperatorProcess) => (await op.metric('nemokeys_operator_leader')) === 1;
  const reconciles = async (op: OperatorProcess) =>
    (await op.metric('nemokeys_operator_reconcile_total', { controller: 'apikey' })) ?? 0;
  const createKey = (name: string) =>
    kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: KINDS.apiKey.plural,
      namespace: NS,
      body: { apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name }, spec: { team: 'platform' } },
    });
  const waitReady = (name: string) =>
    eventually(
      async () => (await listApiKeys(kc, NS)).find((k) => k.metadata.name === name && isReady(k)),
      60_000,
      `ApiKey ${name} Ready`,
    );

  beforeAll(async () => {
    kc = adminKubeConfig();
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: RECORDS } } });
    await createTeam(kc, NS, 'platform');
  });
  afterAll(async () => {
    for (const op of operators) await op.stop();
  });

  it('one leader, a passive standby; SIGKILL the leader → the standby takes over after the lease expires and reconciles', async () => {
    const a = start('replica-a');
    await eventually(() => isLeader(a), 60_000, 'replica-a leads');
    const b = start('replica-b');
    await b.metricsPort;
    await createKey('before');
    await waitReady('before');

    // Exactly one leader: metric and Lease agree; the standby reconciled nothing.
    expect(await isLeader(a)).toBe(true);
    expect(await b.metric('nemokeys_operator_leader')).toBe(0);
    expect((await lease()).spec?.holderIdentity).toBe('replica-a');
    expect(await reconciles(a)).toBeGreaterThan(0);
    expect(await reconciles(b)).toBe(0);

    a.kill('SIGKILL');
    const killedAt = Date.now();
    await a.exited;
    const lastRenewByA = micro((await lease()).spec?.renewTime);
    await eventually(() => isLeader(b), 60_000, 'replica-b takes over');
    const tookMs = Date.now() - killedAt;

    const after = await lease();
    expect(after.spec?.holderIdentity).toBe('replica-b');
    // No split brain: b acquired only after a's last renewal had aged a full lease duration.
    expect(micro(after.spec?.acquireTime) - lastRenewByA).toBeGreaterThanOrEqual(LEADER_DEFAULTS.leaseDurationMs);
    expect(after.spec?.leaseDurationSeconds).toBe(LEADER_DEFAULTS.leaseDurationMs / 1000);

    await createKey('after');
    await waitReady('after');
    expect(await reconciles(b)).toBeGreaterThan(0);
    const sinceRenew = micro(after.spec?.acquireTime) - lastRenewByA;
    process.stdout.write(
      `[leader] standby took over ${tookMs} ms after SIGKILL of the leader, ${sinceRenew} ms after its last renewal (lease ${LEADER_DEFAULTS.leaseDurationMs} ms, retry ${LEADER_DEFAULTS.retryPeriodMs} ms)\n`,
    );
  }, 240_000);
});
