// The chart on the real API server (RBAC on): the rendered manifests apply with a server-side dry run, the
// sidecar example applies too and matches what the install notes print, and — installed for real — the
// gateway's ServiceAccount can read records only in the records namespace while the operator's identity has
// exactly the rights the design lists (checked by the API server's own authorizer).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AuthorizationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  adminKubeConfig,
  clusterKubeconfig,
  clusterKubectl,
  hasCluster,
  saKubeConfig,
  httpStatusOf,
} from './support/cluster.ts';
import { CHART_DIR, chartNotes, ensureHelm, helmTemplateText, sidecarFromNotes } from './support/helm.ts';

const helm = await ensureHelm();
const uniq = Math.random().toString(36).slice(2, 8);

function kubectl(args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      clusterKubectl(),
      ['--kubeconfig', clusterKubeconfig(), ...args],
      { maxBuffer: 32 << 20 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

/** Stand-ins for the Prometheus Operator CRDs so its kinds can be dry-run applied (their schemas are not ours). */
const monitoringCrds = ['servicemonitors:ServiceMonitor', 'prometheusrules:PrometheusRule']
  .map((s) => {
    const [plural, kind] = s.split(':');
    return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {plural: ${plural}, kind: ${kind}}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`;
  })
  .join('---\n');

describe.skipIf(!helm || !hasCluster())('chart on the real API server', () => {
  const release = `nk${uniq}`;
  const ns = `chart-${uniq}`; // release namespace = records namespace
  const other = `chart-other-${uniq}`;
  const gatewaySa = `${release}-nemokeys-gateway`;
  const operatorSa = `${release}-nemokeys-operator`;
  let admin: KubeConfig;

  beforeAll(async () => {
    admin = adminKubeConfig();
    for (const n of [ns, other]) await kubectl(['create', 'namespace', n]);
    await kubectl(['apply', '--server-side', '--field-manager=nemokeys-chart-test', '-f', '-'], monitoringCrds);
    await kubectl([
      'wait',
      '--for=condition=Established',
      'crd/servicemonitors.monitoring.coreos.com',
      'crd/prometheusrules.monitoring.coreos.com',
    ]);
  });

  afterAll(async () => {
    // Cluster-scoped objects are not in the namespaces: delete them by name.
    for (const role of ['operator', 'key-viewer', 'key-editor', 'team-admin']) {
      await kubectl(['delete', '--ignore-not-found', 'clusterrole', `${release}-nemokeys-${role}`]).catch(() => {});
    }
    await kubectl(['delete', '--ignore-not-found', 'clusterrolebinding', `${release}-nemokeys-operator`]).catch(
      () => {},
    );
    for (const kind of ['validatingadmissionpolicybinding', 'validatingadmissionpolicy']) {
      await kubectl(['delete', '--ignore-not-found', kind, `${release}-nemokeys-audit-trail-guard`]).catch(() => {});
    }
    await kubectl(['delete', 'namespace', ns, other, '--wait=false']).catch(() => {});
  });

  it('every rendered object (CRDs included, all features on) passes a server-side dry-run apply', async () => {
    const text = await helmTemplateText(helm!, {
      release,
      namespace: ns,
      extra: ['--include-crds'],
      set: {
        'operator.replicas': 2,
        'prometheusRule.enabled': true,
        'metrics.serviceMonitor.enabled': true,
        'gateway.metricsService.enabled': true,
        'gateway.metricsService.selector.app': 'router',
        'recordsNamespace.name': other,
        'gateway.redis.existingSecret.name': 'redis',
        'gateway.trustedProxies[0]': '10.0.0.0/8',
      },
    });
    const out = await kubectl(
      [
        'apply',
        '--server-side',
        '--dry-run=server',
        '--field-manager=nemokeys-chart-test',
        '--force-conflicts',
        '-o',
        'name',
        '-f',
        '-',
      ],
      text,
    );
    const applied = out.trim().split('\n');
    const rendered = parseAllDocuments(text).filter((d) => d.toJS());
    expect(applied).toHaveLength(rendered.length);
    for (const kind of [
      'customresourcedefinition',
      'deployment',
      'clusterrole',
      'role',
      'servicemonitor',
      'prometheusrule',
      'poddisruptionbudget',
    ]) {
      expect(
        applied.some((l) => l.startsWith(`${kind}.`)),
        kind,
      ).toBe(true);
    }
  });

  it('the sidecar example applies (dry run) and its gateway container is the one the install notes print', async () => {
    const example = await readFile(join(CHART_DIR, 'examples', 'router-with-gateway.yaml'), 'utf8');
    await kubectl(
      ['apply', '--server-side', '--dry-run=server', '--field-manager=nemokeys-chart-test', '-n', ns, '-f', '-'],
      example,
    );
    const notes = await chartNotes(helm!, clusterKubeconfig(), { release: 'nemokeys', namespace: 'nemokeys-system' });
    const printed = sidecarFromNotes(notes);
    const deploy = parseAllDocuments(example)
      .map((d) => d.toJS())
      .find((o) => o.kind === 'Deployment');
    const inExample = deploy.spec.template.spec.containers.find((c: { name: string }) => c.name === 'nemokeys-gateway');
    expect(inExample).toEqual(printed.container);
    expect(deploy.spec.template.spec.serviceAccountName).toBe('nemokeys-gateway');
    expect(sidecarFromNotes(notes).serviceAccountName).toBe('nemokeys-gateway');
    // Who may do what: the roles for people, and the one that must be granted on purpose.
    expect(notes).toContain('keys: nemokeys-key-editor (part of: edit, admin)');
    expect(notes).toContain('kubectl create clusterrolebinding platform-teams --clusterrole=nemokeys-team-admin');
  });

  describe('installed for real', () => {
    let gw: KubeConfig;
    let op: KubeConfig;

    beforeAll(async () => {
      // The audit trail guard only for this file's namespace: cluster-wide it would refuse other files' operators.
      const text = await helmTemplateText(helm!, {
        release,
        namespace: ns,
        set: { 'auditTrailGuard.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name': ns },
      });
      await kubectl(['apply', '--server-side', '--field-manager=nemokeys-chart-test', '-f', '-'], text);
      const core = admin.makeApiClient(CoreV1Api);
      for (const n of [ns, other]) {
        await core.createNamespacedSecret({
          namespace: n,
          body: { metadata: { name: 'rec-1', labels: { 'keys.nemorouter.io/record': 'true' } }, data: {} },
        });
      }
      gw = await saKubeConfig(ns, gatewaySa);
      op = await saKubeConfig(ns, operatorSa);
    });

    it('the gateway reads records in the records namespace and nothing elsewhere', async () => {
      const core = gw.makeApiClient(CoreV1Api);
      expect(await httpStatusOf(core.readNamespacedSecret({ name: 'rec-1', namespace: ns }))).toBe(200);
      expect(await httpStatusOf(core.listNamespacedSecret({ namespace: ns }))).toBe(200);
      expect(await httpStatusOf(core.readNamespacedSecret({ name: 'rec-1', namespace: other }))).toBe(403);
      expect(await httpStatusOf(core.listNamespacedSecret({ namespace: other }))).toBe(403);
      expect(await httpStatusOf(core.listSecretForAllNamespaces())).toBe(403);
      // Read-only on records: it can neither forge nor delete one.
      expect(
        await httpStatusOf(core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'forged' } } })),
      ).toBe(403);
      expect(await httpStatusOf(core.deleteNamespacedSecret({ name: 'rec-1', namespace: ns }))).toBe(403);
      // Its usage report: create and patch its own ConfigMap, list every replica's (budgets hold against their
      // sum, docs/design.md §4), but write nowhere else.
      const cm = { metadata: { name: `usage-${uniq}` }, data: { 'usage.json': '{}' } };
      expect(await httpStatusOf(core.createNamespacedConfigMap({ namespace: ns, body: cm }))).toBe(200);
      expect(
        await httpStatusOf(
          core.patchNamespacedConfigMap(
            { name: cm.metadata.name, namespace: ns, body: { data: { 'usage.json': '{"a":1}' } } },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          ),
        ),
      ).toBe(200);
      // Server-side apply only: no plain updates.
      expect(
        await httpStatusOf(core.replaceNamespacedConfigMap({ name: cm.metadata.name, namespace: ns, body: cm })),
      ).toBe(403);
      expect(await httpStatusOf(core.listNamespacedConfigMap({ namespace: ns }))).toBe(200);
      expect(await httpStatusOf(core.listNamespacedConfigMap({ namespace: other }))).toBe(403);
      expect(await httpStatusOf(core.createNamespacedConfigMap({ namespace: other, body: cm }))).toBe(403);
    });

    // [verb, group, resource, namespace, allowed]; subresources as "resource/sub".
    const W = 'workloads';
    const operatorRights: [string, string, string, string, boolean][] = [
      ['list', 'keys.nemorouter.io', 'apikeys', '', true],
      ['watch', 'keys.nemorouter.io', 'teams', '', true],
      ['patch', 'keys.nemorouter.io', 'apikeys', W, true],
      ['patch', 'keys.nemorouter.io', 'apikeys/status', W, true],
      ['patch', 'keys.nemorouter.io', 'teams/status', W, true],
      ['update', 'keys.nemorouter.io', 'apikeys/finalizers', W, true],
      ['watch', '', 'secrets', '', true],
      ['create', '', 'secrets', W, true],
      ['patch', '', 'secrets', W, true],
      ['delete', '', 'secrets', 'RECORDS', true],
      ['create', '', 'events', W, true],
      ['patch', 'apps', 'deployments', W, true],
      ['get', 'apps', 'statefulsets', W, true],
      ['patch', 'apps', 'daemonsets', W, true],
      ['list', '', 'configmaps', 'RECORDS', true],
      ['watch', '', 'configmaps', 'RECORDS', true],
      // the audit trails (docs/design.md §8), one ConfigMap per ApiKey / Team next to it
      ['get', '', 'configmaps', W, true],
      ['create', '', 'configmaps', W, true],
      ['patch', '', 'configmaps', W, true],
      ['delete', '', 'configmaps', 'RECORDS', true], // folded usage reports (operator/usage/fold.ts)
      ['create', '', 'configmaps', 'RECORDS', true], // the usage archive (and audit trails, cluster-wide)
      // spec.ipAllowlistFrom lists: a metadata-only watch of ConfigMaps in every namespace (docs/design.md §2)
      ['list', '', 'configmaps', W, true],
      ['watch', '', 'configmaps', '', true],
      ['get', 'coordination.k8s.io', 'leases', 'RECORDS', true],
      ['update', 'coordination.k8s.io', 'leases', 'RECORDS', true],
      // …and nothing more:
      ['create', 'keys.nemorouter.io', 'apikeys', W, false],
      ['delete', 'keys.nemorouter.io', 'apikeys', W, false],
      ['update', 'keys.nemorouter.io', 'apikeys', W, false],
      ['update', 'keys.nemorouter.io', 'apikeys/status', W, false],
      ['patch', 'keys.nemorouter.io', 'teams', W, false],
      ['delete', 'keys.nemorouter.io', 'teams', W, false],
      ['update', '', 'secrets', W, false],
      ['patch', '', 'events', W, false],
      ['create', 'events.k8s.io', 'events', W, false],
      ['update', '', 'configmaps', W, false],
      ['delete', '', 'configmaps', W, false],
      ['list', 'apps', 'deployments', W, false],
      ['update', 'apps', 'deployments', W, false],
      ['delete', 'apps', 'deployments', W, false],
      ['create', '', 'pods', W, false],
      ['get', 'coordination.k8s.io', 'leases', W, false],
      ['delete', 'coordination.k8s.io', 'leases', 'RECORDS', false],
      ['list', '', 'namespaces', '', false],
      ['get', '', 'nodes', '', false],
      ['create', 'rbac.authorization.k8s.io', 'rolebindings', W, false],
      ['create', '', 'serviceaccounts/token', W, false],
      ['delete', 'apiextensions.k8s.io', 'customresourcedefinitions', '', false],
    ];
    it.each(operatorRights)('operator may %s %s/%s in "%s": %s', async (verb, group, res, namespace, allowed) => {
      const [resource, subresource] = res.split('/');
      const review = await op.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              verb,
              group,
              resource,
              subresource,
              namespace: namespace === 'RECORDS' ? ns : namespace,
            },
          },
        },
      });
      expect(review.status?.allowed ?? false).toBe(allowed);
    });
  });
});
