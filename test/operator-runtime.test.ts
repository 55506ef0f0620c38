// runOperator end to end on the real API server with stand-in controllers: two replicas, one
// leads and reconciles labelled Secrets from a real informer; the standby reconciles nothing and is
// still ready; when the leader stops (releasing the lease) the standby takes over and reconciles
// everything (its informer's initial list), including what changed during the hand-over.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api } from '@kubernetes/client-node';
import { runOperator, type RunningOperator } from '../operator/main.ts';
import type { RegisterControllers } from '../operator/runtime/context.ts';
import { objectKey } from '../operator/runtime/types.ts';
import { adminKubeConfig, clusterKubeconfig, hasCluster } from './support/cluster.ts';

const ns = `op-runtime-${randomBytes(3).toString('hex')}`;
const LABEL = 'nemokeys.test/op-runtime';

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!hasCluster())('runOperator with leader election on the real API server', () => {
  const core = () => adminKubeConfig().makeApiClient(CoreV1Api);
  const ops: RunningOperator[] = [];
  const silent = new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

  const replica = (identity: string, reconciled: string[]) => {
    const register: RegisterControllers = async (ctx) => {
      const secrets = ctx.secretInformer({ namespace: ns, labelSelector: `${LABEL}=yes` });
      const q = ctx.runController(
        {
          name: 'stand-in',
          reconcile: async (key) => {
            reconciled.push(key);
            return {};
          },
        },
        { workers: 2 },
      );
      secrets.onChange((s) => q.enqueue(objectKey(s)));
    };
    return runOperator({
      kubeconfig: clusterKubeconfig(),
      recordsNamespace: ns,
      metricsPort: 0,
      healthPort: 0,
      bindAddress: '127.0.0.1',
      logLevel: 'info',
      logDestination: silent,
      leaderElection: true,
      leaseNamespace: ns,
      identity,
      leaderTiming: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 },
      registerControllers: register,
    });
  };
  const put = (name: string) =>
    core().createNamespacedSecret({ namespace: ns, body: { metadata: { name, labels: { [LABEL]: 'yes' } } } });

  beforeAll(async () => {
    await core().createNamespace({ body: { metadata: { name: ns } } });
    await put('s1');
  });
  afterAll(async () => {
    await Promise.all(ops.map((o) => o.stop()));
    await core()
      .deleteNamespace({ name: ns })
      .catch(() => {});
  });

  it('only the leader reconciles; the standby takes over on a graceful stop', async () => {
    const aSeen: string[] = [];
    const bSeen: string[] = [];
    const a = await replica('replica-a', aSeen);
    ops.push(a);
    await until('a leads', () => a.isLeader());
    await until('a reconciles s1', () => aSeen.includes(`${ns}/s1`));
    const b = await replica('replica-b', bSeen);
    ops.push(b);
    await put('s2');
    await until('a reconciles s2', () => aSeen.includes(`${ns}/s2`));
    await new Promise((r) => setTimeout(r, 1000));
    expect(b.isLeader()).toBe(false);
    expect(bSeen).toEqual([]);
    const standbyReady = await fetch(`http://127.0.0.1:${b.healthPort}/readyz`);
    expect(standbyReady.status).toBe(200);
    const leaderMetric = await (await fetch(`http://127.0.0.1:${b.metricsPort}/metrics`)).text();
    expect(leaderMetric).toContain('nemokeys_operator_leader 0');

    await a.stop();
    expect(await a.done).toBe('stopped');
    await put('s3'); // changed while nobody leads
    await until('b leads', () => b.isLeader(), 2000 + 1000);
    await until('b reconciles everything', () => ['s1', 's2', 's3'].every((n) => bSeen.includes(`${ns}/${n}`)));
    const metrics = await (await fetch(`http://127.0.0.1:${b.metricsPort}/metrics`)).text();
    expect(metrics).toContain('nemokeys_operator_leader 1');
    expect(metrics).toMatch(/nemokeys_operator_reconcile_total\{controller="stand-in",result="success"\} [3-9]/);
  });
});
