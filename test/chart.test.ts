// The Helm chart, rendered by the real helm CLI: lint, CRDs in sync with crds/, hardened operator
// Deployment, least-privilege RBAC shapes, alerts/dashboard shipped verbatim, and values validation.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CHART_CRDS_DIR, REPO_CRDS_DIR } from '../charts/sync-crds.ts';
import { CHART_DIR, ensureHelm, helmTemplateText, renderChart, runTool, type K8sObject } from './support/helm.ts';

const helm = await ensureHelm();
const find = (objs: K8sObject[], kind: string, name?: string) =>
  objs.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
const one = (objs: K8sObject[], kind: string, name?: string) => {
  const found = find(objs, kind, name);
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
};
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
type Container = {
  name: string;
  args: string[];
  securityContext: Record<string, unknown>;
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { port: string; path: string } };
  readinessProbe: { httpGet: { port: string; path: string } };
};
const podSpec = (d: K8sObject) =>
  (d.spec as { template: { spec: Record<string, unknown> & { containers: Container[] } } }).template.spec;

describe('chart CRDs', () => {
  it('are identical to the generated crds/ (run `npx node charts/sync-crds.ts` after `npx nemokeys crds --write`)', async () => {
    const repo = (await readdir(REPO_CRDS_DIR)).sort();
    expect((await readdir(CHART_CRDS_DIR)).sort()).toEqual(repo);
    for (const f of repo) {
      expect(await readFile(join(CHART_CRDS_DIR, f), 'utf8'), f).toBe(await readFile(join(REPO_CRDS_DIR, f), 'utf8'));
    }
  });
});

describe.skipIf(!helm)('helm chart', () => {
  it('passes helm lint --strict, with defaults and with every optional feature on', async () => {
    for (const set of [
      [],
      [
        '--set',
        'prometheusRule.enabled=true,metrics.serviceMonitor.enabled=true,operator.replicas=2,' +
          'gateway.metricsService.enabled=true,gateway.metricsService.selector.app=router',
      ],
    ]) {
      const res = await runTool(helm!, ['lint', CHART_DIR, '--strict', ...set]);
      expect(res.code, res.stdout + res.stderr).toBe(0);
    }
  });

  it('packages with CRDs, templates, files and examples, without the promtool tests', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nemokeys-pkg-'));
    const res = await runTool(helm!, ['package', CHART_DIR, '--destination', dir]);
    expect(res.code, res.stderr).toBe(0);
    const list = await runTool('tar', ['-tzf', join(dir, 'nemokeys-0.1.0.tgz')]);
    const files = list.stdout.split('\n').filter(Boolean);
    for (const f of [
      'crds/keys.nemorouter.io_apikeys.yaml',
      'files/alerts.yaml',
      'files/dashboard.json',
      'values.schema.json',
      'examples/router-with-gateway.yaml',
      'templates/operator-rbac.yaml',
      'README.md',
    ]) {
      expect(files, f).toContain(`nemokeys/${f}`);
    }
    expect(files.filter((f) => f.startsWith('nemokeys/tests/'))).toEqual([]);
  });

  it('runs a hardened operator with probes on the health port and leader election', async () => {
    const objs = await renderChart(helm!, { set: { 'operator.replicas': 2 } });
    const deploy = one(objs, 'Deployment', 'nk-nemokeys-operator');
    expect((deploy.spec as { replicas: number }).replicas).toBe(2);
    const pod = podSpec(deploy);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.serviceAccountName).toBe('nk-nemokeys-operator');
    const c = pod.containers[0]!;
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext.runAsUser).toBeGreaterThan(0);
    expect(c.args).toEqual(
      expect.arrayContaining([
        'operator',
        '--records-namespace=nemokeys-system',
        '--metrics-port=8080',
        '--health-port=8081',
        '--leader-elect',
        '--lease-namespace=nemokeys-system',
      ]),
    );
    expect(c.ports).toEqual(
      expect.arrayContaining([
        { name: 'health', containerPort: 8081 },
        { name: 'metrics', containerPort: 8080 },
      ]),
    );
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(one(objs, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
    // One replica needs no PDB (it would block node drains forever).
    expect(find(await renderChart(helm!), 'PodDisruptionBudget')).toHaveLength(0);
  });

  it('grants RBAC without wildcards; gateway rights are namespaced to the records namespace only', async () => {
    const objs = await renderChart(helm!, {
      namespace: 'ops',
      set: { 'recordsNamespace.name': 'llm', 'recordsNamespace.create': true },
    });
    const rules = objs.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole').flatMap((r) => r.rules as Rule[]);
    for (const r of rules) {
      expect([...r.verbs, ...r.resources, ...r.apiGroups]).not.toContain('*');
      expect(r.verbs).not.toContain('escalate');
      expect(r.verbs).not.toContain('impersonate');
    }
    // The only ClusterRole a component's identity holds; the others are for people (test/roles.test.ts).
    expect(find(objs, 'ClusterRole').map((r) => r.metadata.name)).toEqual([
      'nk-nemokeys-operator',
      'nk-nemokeys-key-viewer',
      'nk-nemokeys-key-editor',
      'nk-nemokeys-team-admin',
    ]);
    expect(find(objs, 'ClusterRoleBinding').map((r) => r.metadata.name)).toEqual(['nk-nemokeys-operator']);
    const gwRole = one(objs, 'Role', 'nk-nemokeys-gateway');
    expect(gwRole.metadata.namespace).toBe('llm');
    expect(gwRole.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create', 'patch'] },
    ]);
    const gwBinding = one(objs, 'RoleBinding', 'nk-nemokeys-gateway');
    expect(gwBinding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'nk-nemokeys-gateway', namespace: 'llm' }]);
    expect(one(objs, 'Role', 'nk-nemokeys-operator-records').metadata.namespace).toBe('llm');
    expect(one(objs, 'Role', 'nk-nemokeys-operator-leader-election').metadata.namespace).toBe('ops');
    expect(one(objs, 'Namespace').metadata.name).toBe('llm');
    // The gateway's ServiceAccount can live in the router's own namespace.
    const elsewhere = await renderChart(helm!, { set: { 'gateway.namespace': 'router' } });
    expect(one(elsewhere, 'RoleBinding', 'nk-nemokeys-gateway').subjects).toEqual([
      { kind: 'ServiceAccount', name: 'nk-nemokeys-gateway', namespace: 'router' },
    ]);
    expect(one(elsewhere, 'RoleBinding', 'nk-nemokeys-gateway').metadata.namespace).toBe('nemokeys-system');
  });

  it('ships files/alerts.yaml verbatim as the PrometheusRule and the dashboard JSON in a sidecar-labelled ConfigMap', async () => {
    const objs = await renderChart(helm!, { set: { 'prometheusRule.enabled': true } });
    const alerts = parse(await readFile(join(CHART_DIR, 'files', 'alerts.yaml'), 'utf8'));
    expect(one(objs, 'PrometheusRule').spec).toEqual(alerts);
    const cm = one(objs, 'ConfigMap', 'nk-nemokeys-dashboard');
    expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    const dashboard = await readFile(join(CHART_DIR, 'files', 'dashboard.json'), 'utf8');
    expect(JSON.parse((cm.data as Record<string, string>)['nemokeys.json']!)).toEqual(JSON.parse(dashboard));
  });

  it('renders the PrometheusRule by default exactly when the cluster serves monitoring.coreos.com/v1 PrometheusRule', async () => {
    const withOperator = await renderChart(helm!, {
      extra: ['--api-versions', 'monitoring.coreos.com/v1/PrometheusRule'],
    });
    expect(find(withOperator, 'PrometheusRule')).toHaveLength(1);
    const forcedOff = await renderChart(helm!, {
      set: { 'prometheusRule.enabled': false },
      extra: ['--api-versions', 'monitoring.coreos.com/v1/PrometheusRule'],
    });
    expect(find(forcedOff, 'PrometheusRule')).toHaveLength(0);
    await expect(renderChart(helm!, { set: { 'prometheusRule.enabled': 'sometimes' } })).rejects.toThrow(
      /prometheusRule/,
    );
  });

  it('keeps monitoring objects off by default (their CRDs may not exist)', async () => {
    const kinds = (await renderChart(helm!)).map((o) => o.kind);
    expect(kinds).not.toContain('ServiceMonitor');
    expect(kinds).not.toContain('PrometheusRule');
    const on = await renderChart(helm!, {
      set: {
        'metrics.serviceMonitor.enabled': true,
        'gateway.metricsService.enabled': true,
        'gateway.metricsService.selector.app': 'router',
      },
    });
    const monitors = find(on, 'ServiceMonitor');
    expect(monitors).toHaveLength(2);
    for (const m of monitors)
      expect((m.spec as { endpoints: { honorLabels: boolean }[] }).endpoints[0]!.honorLabels).toBe(true);
    expect((one(on, 'Service', 'nk-nemokeys-gateway-metrics').spec as { selector: unknown }).selector).toEqual({
      app: 'router',
    });
  });

  it('passes --no-leader-elect (the CLI elects by default) and grants no Lease rights when election is off', async () => {
    const objs = await renderChart(helm!, { set: { 'operator.leaderElection.enabled': false } });
    const args = podSpec(one(objs, 'Deployment')).containers[0]!.args;
    expect(args).toContain('--no-leader-elect');
    expect(args).not.toContain('--leader-elect');
    expect(find(objs, 'Role', 'nk-nemokeys-operator-leader-election')).toHaveLength(0);
  });

  it('mail and audit receiver: flags, credentials from Secrets (never args), the audit Service on every replica', async () => {
    const objs = await renderChart(helm!, {
      set: {
        'operator.mail.smtpUrl': 'smtp://mail.example.com:587',
        'operator.mail.from': 'keys@example.com',
        'operator.mail.credentialsSecret': 'smtp',
        'operator.audit.webhookPort': 9443,
        'operator.audit.tlsSecret': 'audit-tls',
        'operator.audit.tokenSecret': 'audit-token',
      },
    });
    const c = podSpec(one(objs, 'Deployment')).containers[0]! as unknown as {
      args: string[];
      env: { name: string; valueFrom?: unknown }[];
    };
    expect(c.args).toEqual(
      expect.arrayContaining([
        '--smtp-url=smtp://mail.example.com:587',
        '--mail-from=keys@example.com',
        '--audit-webhook-port=9443',
        '--audit-tls-cert-file=/etc/nemokeys/audit-tls/tls.crt',
      ]),
    );
    expect(c.env.filter((e) => e.name.startsWith('NEMOKEYS_')).map((e) => [e.name, e.valueFrom])).toEqual([
      ['NEMOKEYS_SMTP_USERNAME', { secretKeyRef: { name: 'smtp', key: 'username' } }],
      ['NEMOKEYS_SMTP_PASSWORD', { secretKeyRef: { name: 'smtp', key: 'password' } }],
      ['NEMOKEYS_AUDIT_TOKEN', { secretKeyRef: { name: 'audit-token', key: 'token' } }],
    ]);
    expect((one(objs, 'Service', 'nk-nemokeys-operator-audit').spec as { ports: unknown[] }).ports).toEqual([
      { name: 'audit', port: 443, targetPort: 'audit' },
    ]);
    expect(find(await renderChart(helm!), 'Service').map((s) => s.metadata.name)).not.toContain(
      'nk-nemokeys-operator-audit',
    );
  });

  it('passes only flags the CLI knows (operator Deployment, gateway sidecar example)', async () => {
    const flagsOf = (args: string[]) => args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);
    const help = async (cmd: string) => {
      const res = await runTool(process.execPath, [join(CHART_DIR, '..', '..', 'bin', 'nemokeys.js'), cmd, '--help']);
      expect(res.code, res.stderr).toBe(0);
      return res.stdout;
    };
    const objs = await renderChart(helm!, {
      set: {
        'operator.leaderElection.enabled': true,
        'operator.mail.smtpUrl': 'smtp://mail.example.com:587',
        'operator.mail.from': 'keys@example.com',
        'operator.audit.webhookPort': 9443,
        'operator.audit.tlsSecret': 'audit-tls',
      },
    });
    const opHelp = await help('operator');
    for (const f of flagsOf(podSpec(one(objs, 'Deployment')).containers[0]!.args)) expect(opHelp, f).toContain(f);
    const example = parseAllDocuments(await readFile(join(CHART_DIR, 'examples', 'router-with-gateway.yaml'), 'utf8'))
      .map((d) => d.toJS() as K8sObject)
      .find((o) => o.kind === 'Deployment')!;
    const sidecar = podSpec(example).containers.find((c) => c.name === 'nemokeys-gateway')!;
    expect(sidecar.args[0]).toBe('gateway');
    const gwHelp = await help('gateway');
    for (const f of flagsOf(sidecar.args)) expect(gwHelp, f).toContain(f);
  });

  const invalid: [string, Record<string, string | number | boolean>, RegExp][] = [
    [
      'two active operators',
      { 'operator.replicas': 2, 'operator.leaderElection.enabled': false },
      /leaderElection\/enabled/,
    ],
    ['root user', { 'securityContext.runAsUser': 0 }, /runAsUser/],
    ['unknown value (typo)', { 'operator.replica': 2 }, /additional properties 'replica'/],
    ['upstream without scheme', { 'gateway.upstream': 'localhost:4000' }, /upstream/],
    ['SMTP credentials in the URL', { 'operator.mail.smtpUrl': 'smtp://user:pw@mail.example.com' }, /smtpUrl/],
    ['SMTP without a sender', { 'operator.mail.smtpUrl': 'smtp://mail.example.com' }, /operator.mail.from is required/],
    ['gateway metrics Service without selector', { 'gateway.metricsService.enabled': true }, /selector/],
    ['records namespace created twice', { 'recordsNamespace.create': true }, /--create-namespace/],
    ['invalid namespace name', { 'recordsNamespace.name': 'Not_A_Namespace' }, /recordsNamespace\/name/],
  ];
  it.each(invalid)('rejects %s', async (_name, set, message) => {
    await expect(helmTemplateText(helm!, { set })).rejects.toThrow(message);
  });
});
