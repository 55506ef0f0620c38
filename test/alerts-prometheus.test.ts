// A real Prometheus scrapes the real operator and gateway: every metric name the alerts and dashboard rely on
// is exported, every dashboard query runs, the key panels have data, the alert rules load healthy, and the
// 7-day expiry alert fires for a key that expires in 3 days.
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { startDemoUpstream, type DemoUpstream } from '../gateway/demo-upstream.ts';
import { runGateway, type RunningGateway } from '../gateway/main.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { reportMissingTool } from './support/helm.ts';
import { eventually, startTestOperator, type TestOperator } from './support/operator.ts';
import {
  ALERTS,
  EXPORTED_METRICS,
  dashboardQueries,
  findPrometheus,
  grafanaToPromql,
  startPrometheus,
  type PrometheusServer,
} from './support/promtool.ts';

const prometheusBin =
  findPrometheus() ?? reportMissingTool('prometheus', 'not on PATH', 'Install it: apt-get install -y prometheus.');
const id = Math.random().toString(36).slice(2, 7);
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };

describe.skipIf(!prometheusBin || !hasCluster())('Prometheus scraping the operator and the gateway', () => {
  const app = `prom-app-${id}`;
  let op: TestOperator;
  let gw: RunningGateway;
  let upstream: DemoUpstream;
  let prom: PrometheusServer;
  const custom = () => adminKubeConfig().makeApiClient(CustomObjectsApi);
  const core = () => adminKubeConfig().makeApiClient(CoreV1Api);
  const chat = async (key: string, model: string) => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.arrayBuffer();
    return r.status;
  };

  beforeAll(async () => {
    op = await startTestOperator({ recordsNamespace: `prom-records-${id}` });
    upstream = await startDemoUpstream();
    gw = await runGateway({
      upstream: upstream.url,
      recordsNamespace: op.recordsNamespace,
      kubeConfig: adminKubeConfig(),
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      gatewayId: `gw-${id}`,
      logger: pino({ level: 'silent' }),
    });
    await gw.synced;
    await core().createNamespace({ body: { metadata: { name: app } } });
    await custom().createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: KINDS.team.plural,
      namespace: app,
      body: {
        apiVersion: API_VERSION,
        kind: 'Team',
        metadata: { name: 'payments' },
        spec: { allowedModels: ['gpt-4o-mini', 'gpt-4o'] },
      },
    });
    await custom().createNamespacedCustomObject({
      ...AK,
      namespace: app,
      body: {
        apiVersion: API_VERSION,
        kind: 'ApiKey',
        metadata: { name: 'checkout' },
        spec: { team: 'payments', expiration: '3d', allowedModels: ['gpt-4o-mini'] },
      },
    });
    await eventually(
      async () => {
        const s = (
          (await custom().getNamespacedCustomObject({ ...AK, namespace: app, name: 'checkout' })) as {
            status?: ApiKeyStatus;
          }
        ).status;
        return s?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      },
      30_000,
      'ApiKey Ready',
    );
    const secret = await core().readNamespacedSecret({ namespace: app, name: 'checkout' });
    const key = Buffer.from(secret.data!['api-key']!, 'base64').toString();
    await eventually(async () => (await chat(key, 'gpt-4o-mini')) === 200, 10_000, 'gateway knows the key');
    for (let i = 0; i < 5; i++) expect(await chat(key, 'gpt-4o-mini')).toBe(200);
    for (let i = 0; i < 3; i++) expect(await chat(key, 'gpt-4o')).toBe(403); // outside the key's models
    prom = await startPrometheus(prometheusBin!, {
      targets: {
        'nemokeys-operator': `127.0.0.1:${op.running.metricsPort}`,
        'nemokeys-gateway': new URL(gw.metricsUrl).host,
      },
      ruleFiles: [ALERTS],
    });
    await eventually(
      async () => {
        const t = await prom.get<{ activeTargets: { health: string }[] }>('/api/v1/targets');
        return t.activeTargets.length === 2 && t.activeTargets.every((x) => x.health === 'up');
      },
      30_000,
      'both targets up',
    );
  }, 180_000);

  afterAll(async () => {
    await prom?.stop();
    await gw?.stop();
    await upstream?.close();
    await op?.stop();
  });

  // Labelled counters have no samples until first incremented (no reconcile errors here), so read the
  // declarations (# TYPE) the processes expose rather than the series Prometheus stored.
  it('exports every metric the alerts and the dashboard use', async () => {
    const texts = await Promise.all(
      [`http://127.0.0.1:${op.running.metricsPort}/metrics`, `${gw.metricsUrl}/metrics`].map(async (u) =>
        (await fetch(u)).text(),
      ),
    );
    const declared = new Set(
      texts
        .join('\n')
        .match(/^# TYPE nemokeys_\w+/gm)!
        .map((l) => l.slice('# TYPE '.length)),
    );
    for (const m of EXPORTED_METRICS) expect([...declared], m).toContain(m);
    const stored = await prom.query('count by (__name__) ({__name__=~"nemokeys_.+"})');
    expect(stored.length).toBeGreaterThan(10);
  });

  it('every dashboard query runs; usage, last use, denials, latency and expiry panels have data', async () => {
    const results = new Map<string, number>();
    for (const q of await dashboardQueries()) {
      const rows = await prom.query(grafanaToPromql(q.expr)); // throws on any PromQL error
      results.set(q.panel, (results.get(q.panel) ?? 0) + rows.length);
    }
    for (const panel of [
      'Requests/s by key',
      'Last used (time since)',
      'Denials/s by reason',
      'Gateway overhead p50 / p99',
      'Keys expiring within 30 days',
      'Gateways in sync',
      'Operator leaders',
    ]) {
      await eventually(
        async () => {
          const exprs = (await dashboardQueries()).filter((q) => q.panel === panel);
          for (const q of exprs) if ((await prom.query(grafanaToPromql(q.expr))).length > 0) return true;
          return false;
        },
        20_000,
        `data in panel "${panel}"`,
      );
    }
    expect(results.size).toBeGreaterThan(10);
  });

  it('loads every alert rule healthy and fires the 7-day reminder for the 3-day key', async () => {
    const rules = await prom.get<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>(
      '/api/v1/rules',
    );
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThan(10);
    for (const r of all) expect(r.health, `${r.name}: ${r.lastError}`).not.toBe('err');
    const firing = await eventually(
      async () => {
        const a = await prom.get<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
        return a.alerts.find(
          (x) =>
            x.labels.alertname === 'NemokeysApiKeyExpiresIn7Days' && x.labels.namespace === app && x.state === 'firing',
        );
      },
      20_000,
      'NemokeysApiKeyExpiresIn7Days firing',
    );
    expect(firing.labels).toMatchObject({ apikey: 'checkout', team: 'payments', severity: 'info' });
    const a = await prom.get<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
    expect(
      a.alerts.filter((x) => x.labels.namespace === app && x.labels.alertname === 'NemokeysApiKeyExpired'),
    ).toEqual([]);
  });
});
