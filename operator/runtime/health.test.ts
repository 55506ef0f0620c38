import { afterEach, describe, expect, it } from 'vitest';
import { createOperatorMetrics } from './metrics.ts';
import { Readiness, startOpsServer, type OpsServer } from './health.ts';

const servers: OpsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function get(server: OpsServer, path: string) {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('ops server', () => {
  it('serves the operator metric names on /metrics', async () => {
    const metrics = createOperatorMetrics({ processMetrics: false });
    metrics.reconcileTotal.inc({ controller: 'apikey', result: 'success' });
    metrics.leader.set(1);
    metrics.informerRestarts.inc({ resource: 'secrets' });
    metrics.reconcileDuration.observe({ controller: 'apikey' }, 0.01);
    metrics.reconcileErrors.inc({ controller: 'apikey' });
    metrics.trackQueue('apikey', () => 7);
    const server = await startOpsServer({ port: 0, host: '127.0.0.1', registry: metrics.registry });
    servers.push(server);
    const { status, body, type } = await get(server, '/metrics');
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    for (const line of [
      'nemokeys_operator_reconcile_total{controller="apikey",result="success"} 1',
      'nemokeys_operator_reconcile_errors_total{controller="apikey"} 1',
      'nemokeys_operator_reconcile_duration_seconds_count{controller="apikey"} 1',
      'nemokeys_operator_workqueue_depth{controller="apikey"} 7',
      'nemokeys_operator_leader 1',
      'nemokeys_operator_informer_restarts_total{resource="secrets"} 1',
    ])
      expect(body).toContain(line);
    expect((await get(server, '/healthz')).status).toBe(404); // not on this server
  });

  it.each([
    { name: 'no checks (standby)', checks: [] as Array<[string, boolean]>, status: 200 },
    {
      name: 'all informers synced',
      checks: [
        ['informer/apikeys', true],
        ['informer/secrets', true],
      ] as Array<[string, boolean]>,
      status: 200,
    },
    {
      name: 'one informer not synced',
      checks: [
        ['informer/apikeys', true],
        ['informer/secrets', false],
      ] as Array<[string, boolean]>,
      status: 503,
    },
  ])('/readyz: $name → $status; /healthz always 200', async ({ checks, status }) => {
    const readiness = new Readiness();
    for (const [name, ok] of checks) readiness.add(name, () => ok);
    const server = await startOpsServer({ port: 0, host: '127.0.0.1', readiness });
    servers.push(server);
    const ready = await get(server, '/readyz');
    expect(ready.status).toBe(status);
    if (status === 503) expect(ready.body).toContain('informer/secrets');
    expect((await get(server, '/healthz')).status).toBe(200);
    expect((await get(server, '/metrics')).status).toBe(404);
  });
});
