// runOperator wiring without a cluster: the kubeconfig points at a closed port, so informers never
// sync. Proves: ops servers, readiness reflects unsynced informers, workers wait for the caches,
// registerControllers gets a complete context, and stop() shuts everything down.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runOperator } from './main.ts';
import { DEFAULT_APIKEY_WORKERS } from './runtime/concurrency.ts';
import type { OperatorContext } from './runtime/context.ts';

const dir = mkdtempSync(join(tmpdir(), 'nemokeys-op-'));
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
);

const silent = new Writable({
  write(_c, _e, cb) {
    cb();
  },
});
const base = {
  kubeconfig,
  recordsNamespace: 'nemokeys-system',
  metricsPort: 0,
  healthPort: 0,
  bindAddress: '127.0.0.1',
  logLevel: 'info' as const,
  leaderElection: false,
  leaseNamespace: 'nemokeys-system',
  logDestination: silent,
  informerTuning: { backoff: { baseMs: 50, maxMs: 100 }, relistIntervalMs: 0, watchdogMs: 0 },
};

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
};

async function until(f: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('runOperator', () => {
  it('runs controllers right away when they watch nothing, serves metrics and probes, and stops cleanly', async () => {
    const reconciled: string[] = [];
    let ctxSeen: OperatorContext | undefined;
    const op = await runOperator({
      ...base,
      registerControllers: async (ctx) => {
        ctxSeen = ctx;
        const q = ctx.runController({
          name: 'probe',
          reconcile: async (k) => {
            reconciled.push(k);
            return {};
          },
        });
        q.enqueue('ns/a');
      },
    });
    await until(() => reconciled.length === 1);
    expect(Object.keys(ctxSeen!).sort()).toEqual([
      'apiKeyWorkers',
      'audit',
      'clock',
      'createInformer',
      'customObjectInformer',
      'kube',
      'log',
      'metrics',
      'recordsNamespace',
      'runController',
      'secretInformer',
      'signal',
    ]);
    expect(ctxSeen!.recordsNamespace).toBe('nemokeys-system');
    expect(ctxSeen!.apiKeyWorkers).toBe(DEFAULT_APIKEY_WORKERS);
    expect(op.isLeader()).toBe(true);
    expect((await get(op.healthPort, '/readyz')).status).toBe(200);
    expect((await get(op.healthPort, '/healthz')).status).toBe(200);
    const metrics = (await get(op.metricsPort, '/metrics')).body;
    expect(metrics).toContain('nemokeys_operator_leader 1');
    expect(metrics).toContain('nemokeys_operator_reconcile_total{controller="probe",result="success"} 1');
    expect(metrics).toContain('process_resident_memory_bytes');
    await op.stop();
    expect(await op.done).toBe('stopped');
    expect(ctxSeen!.signal.aborted).toBe(true);
    await expect(fetch(`http://127.0.0.1:${op.healthPort}/healthz`)).rejects.toThrow();
  });

  it('holds workers and reports not-ready while an informer cannot sync; counts its restarts; stop still works', async () => {
    const reconciled: string[] = [];
    const op = await runOperator({
      ...base,
      registerControllers: async (ctx) => {
        const secrets = ctx.secretInformer({ labelSelector: 'nemokeys.test/x=y' });
        const q = ctx.runController({
          name: 'gated',
          reconcile: async (k) => {
            reconciled.push(k);
            return {};
          },
        });
        secrets.onChange((s) => q.enqueue(`${s.metadata?.namespace}/${s.metadata?.name}`));
        q.enqueue('ns/early');
      },
    });
    await until(async () =>
      (await get(op.metricsPort, '/metrics')).body.includes(
        'nemokeys_operator_informer_restarts_total{resource="secrets"} 2',
      ),
    );
    const ready = await get(op.healthPort, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('informer/secrets');
    expect(reconciled).toEqual([]);
    await op.stop();
    expect(await op.done).toBe('stopped');
    expect(reconciled).toEqual([]);
  });

  it('reports controllers-failed when registerControllers throws', async () => {
    const op = await runOperator({
      ...base,
      registerControllers: async () => {
        throw new Error('bad wiring');
      },
    });
    expect(await op.done).toBe('controllers-failed');
  });
});
