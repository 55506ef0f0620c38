// The operator as a real process under failure, on its OWN control plane (the API server is restarted):
// 30 ApiKeys are created, the operator is SIGKILLed while it issues them, the API server restarts, a
// second operator starts, the API server is stopped and started again under it mid-run — and in the end every ApiKey is Ready with
// exactly one key id (status, Secret and record agree), no duplicate, orphan or lost key, and no
// plaintext in any log line.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { generateKey, KEY_SCANNER_PATTERN } from '../api/keyformat.ts';
import { recordSecret, renderRecord } from '../operator/apikey/record.ts';
import { spawnOperator, type OperatorProcess } from '../bench/operator-process.ts';
import { isReady, oneKeyPerApiKeyViolations, readState, type NamespaceState } from '../bench/operator-state.ts';
import { installCrds, startControlPlane, type ControlPlane } from '../controlplane/controlplane.ts';
import { hasCluster } from './support/cluster.ts';
import { eventually, createTeam } from './support/operator.ts';

const NS = 'resilience-keys';
const RECORDS = 'resilience-records';
const N = 30;

describe.skipIf(!hasCluster())(
  'operator crash + API server restart (own control plane, operator as a child process)',
  () => {
    let cp: ControlPlane;
    let kc: KubeConfig;
    const operators: OperatorProcess[] = [];
    const start = (identity: string, workers?: number) => {
      const op = spawnOperator({
        kubeconfig: cp.kubeconfigPath,
        recordsNamespace: RECORDS,
        leaderElect: false,
        identity,
        ...(workers !== undefined ? { workers } : {}),
      });
      operators.push(op);
      return op;
    };
    const recordCount = async () => (await readState(kc, NS, RECORDS)).records.length;

    beforeAll(async () => {
      cp = await startControlPlane({ log: () => {} });
      kc = cp.kubeConfig();
      await installCrds(cp, crdYaml());
      const core = kc.makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: RECORDS } } });
      await createTeam(kc, NS, 'platform');
    });
    afterAll(async () => {
      for (const op of operators) await op.stop();
      await cp?.stop();
    });

    it('SIGKILL mid-issue, API server restart, new operator, API server restart mid-run → every ApiKey Ready with exactly one key id', async () => {
      // One key at a time, so the kill lands mid-issue however fast the operator has become (with 32
      // workers all 30 keys were Ready before a 100 ms poll saw the first record).
      const first = start('operator-1', 1);
      await first.metricsPort;
      const custom = kc.makeApiClient(CustomObjectsApi);
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          custom.createNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            plural: KINDS.apiKey.plural,
            namespace: NS,
            body: {
              apiVersion: API_VERSION,
              kind: 'ApiKey',
              metadata: { name: `key-${i}` },
              spec: { team: 'platform', environment: 'dev', expiration: '30d' },
            },
          }),
        ),
      );

      // Kill as soon as the first record exists: the operator is in the middle of issuing keys.
      await eventually(async () => (await recordCount()) > 0, 60_000, 'the first record');
      first.kill('SIGKILL');
      expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const atKill = await readState(kc, NS, RECORDS);
      const readyAtKill = atKill.apiKeys.filter(isReady).length;
      // Otherwise the kill did not interrupt anything and this test would prove nothing.
      expect(readyAtKill).toBeLessThan(N);

      // The API server restarts while no operator runs (etcd keeps the half-issued state).
      await cp.stopApiServer();
      await cp.startApiServer();

      const second = start('operator-2');
      await second.metricsPort;
      // Take the API server away while the second operator is issuing the rest.
      // Progress is a new record or a newly Ready key: with many workers the first operator may already have
      // written every record, leaving only Secrets and statuses to the second.
      await eventually(
        async () => {
          const s = await readState(kc, NS, RECORDS);
          return s.records.length > atKill.records.length || s.apiKeys.filter(isReady).length > readyAtKill;
        },
        60_000,
        'progress by the second operator',
      );
      const progress = await readState(kc, NS, RECORDS);
      await cp.stopApiServer();
      await new Promise((r) => setTimeout(r, 2000)); // the outage (scenario, not an assertion)
      await cp.startApiServer();
      expect(second.running).toBe(true);

      const final = await eventually(
        async () => {
          if (!second.running) throw new Error(`operator-2 exited:\n${second.lines.slice(-20).join('\n')}`);
          const s = await readState(kc, NS, RECORDS);
          return s.apiKeys.length === N && s.apiKeys.every(isReady) ? s : undefined;
        },
        180_000,
        `all ${N} ApiKeys Ready`,
      );
      // Let follow-up reconciles (orphan cleanup after the adopted/abandoned issues) settle, then check.
      const settled = await eventually(
        async () => {
          const s = await readState(kc, NS, RECORDS);
          return oneKeyPerApiKeyViolations(s).length === 0 ? s : undefined;
        },
        60_000,
        'one key id per ApiKey',
      ).catch(async () => readState(kc, NS, RECORDS));
      expect(oneKeyPerApiKeyViolations(settled)).toEqual([]);
      expect(settled.records).toHaveLength(N);
      expect(settled.secrets).toHaveLength(N);
      expect(final.apiKeys).toHaveLength(N);

      // The operator survived the outage by restarting its watches, not by being restarted.
      expect(second.running).toBe(true);
      expect(await second.metric('nemokeys_operator_informer_restarts_total')).toBeGreaterThan(0);
      // Plaintext never reaches logs, across kill, restart and outage.
      const keyLike = new RegExp(KEY_SCANNER_PATTERN);
      expect([...first.lines, ...second.lines].filter((l) => keyLike.test(l))).toEqual([]);
      process.stdout.write(
        `[resilience] killed operator-1 with ${readyAtKill}/${N} Ready and ${atKill.records.length} records; ` +
          `API server stopped with ${progress.apiKeys.filter(isReady).length}/${N} Ready\n`,
      );
    }, 420_000);
  },
);

// The invariant checker above decides this test; here it must catch each way of breaking the invariant.
describe('oneKeyPerApiKeyViolations', () => {
  const at = '2026-01-01T00:00:00.000Z';
  const owner = { namespace: 'ns', name: 'app', uid: 'uid-1', team: 'platform' };
  const record = (keyId: string, hash: string, state: 'Active' | 'Revoked' = 'Active') =>
    recordSecret(
      'records',
      owner,
      renderRecord(
        {
          entry: { id: keyId, hint: 'abcd', state, createdAt: at },
          hash,
          owner,
          environment: undefined,
          scopes: { models: ['*'], endpoints: [], ipAllowlist: [] },
          suspension: undefined,
          rateLimit: undefined,
          budget: undefined,
        },
        at,
      ),
      at,
    );
  const key = generateKey();
  const other = generateKey();
  const good = (): NamespaceState => ({
    apiKeys: [
      {
        metadata: { name: 'app', namespace: 'ns', uid: 'uid-1', resourceVersion: '1' },
        status: {
          currentKeyId: key.keyId,
          secretName: 'app',
          keys: [{ id: key.keyId, hint: key.hint, state: 'Active', createdAt: at }],
          conditions: [{ type: 'Ready', status: 'True', reason: 'KeyReady', message: 'ok', lastTransitionTime: at }],
        },
      } as NamespaceState['apiKeys'][number],
    ],
    secrets: [
      { metadata: { name: 'app', namespace: 'ns' }, data: { 'api-key': Buffer.from(key.key).toString('base64') } },
    ],
    records: [record(key.keyId, key.hash)],
  });
  it.each<[string, (s: NamespaceState) => void, RegExp | undefined]>([
    ['all consistent', () => {}, undefined],
    [
      'an orphan record of an abandoned issue',
      (s) => s.records.push(record(other.keyId, other.hash)),
      /orphan record for key id/,
    ],
    [
      'the Secret holds another key id',
      (s) => {
        s.secrets[0]!.data!['api-key'] = Buffer.from(other.key).toString('base64');
      },
      /Secret holds key id/,
    ],
    [
      'two key ids in status',
      (s) => {
        s.apiKeys[0]!.status!.keys!.unshift({ id: other.keyId, hint: other.hint, state: 'Superseded', createdAt: at });
      },
      /status.keys is/,
    ],
    [
      'the record hash does not verify the Secret',
      (s) => {
        s.records[0] = record(key.keyId, other.hash);
      },
      /does not verify/,
    ],
    [
      'the record was lost',
      (s) => {
        s.records = [];
      },
      /0 records for key id/,
    ],
    [
      'the record is revoked',
      (s) => {
        s.records[0] = record(key.keyId, key.hash, 'Revoked');
      },
      /is Revoked/,
    ],
    [
      'not Ready',
      (s) => {
        s.apiKeys[0]!.status!.conditions![0]!.status = 'False';
      },
      /not Ready/,
    ],
    [
      'an orphan workload Secret',
      (s) => s.secrets.push({ metadata: { name: 'gone' }, data: {} }),
      /orphan workload Secret gone/,
    ],
  ])('%s', (_name, breakIt, want) => {
    const state = good();
    breakIt(state);
    const problems = oneKeyPerApiKeyViolations(state);
    if (want) expect(problems.join('\n')).toMatch(want);
    else expect(problems).toEqual([]);
    expect(problems.join('\n')).not.toContain(key.key);
  });
});
