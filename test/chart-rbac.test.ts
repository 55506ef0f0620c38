// RBAC on the real API server, with the real operator and gateway running as ONLY the chart's ServiceAccounts
// (bearer tokens, RBAC enforced) through a key's life: leadership → issue (workload Secret, record, Event,
// Ready) → gateway call → usage report → status → a gone replica's report folded → rotation (restart target patched) → deletion (finalizer
// cleans the records). Sufficient: every step completes and nothing is refused. Minimal: dropping any one
// rule of the chart breaks a step or gets refused.
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { ANNOTATIONS, API_VERSION, GROUP, KINDS, LABELS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { startDemoUpstream } from '../gateway/demo-upstream.ts';
import { runGateway, type RunningGateway } from '../gateway/main.ts';
import { usageConfigMap } from '../gateway/usage/reporter-kube.ts';
import { patchMetadata } from '../kube/apply.ts';
import { runOperator, type RunningOperator } from '../operator/main.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster, saKubeConfig } from './support/cluster.ts';
import { ensureHelm, renderChart, type K8sObject } from './support/helm.ts';
import { eventually } from './support/operator.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const helm = await ensureHelm();
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
const ruleName = (role: K8sObject, i: number) =>
  `${role.kind} ${role.metadata.name.replace(/^[a-z0-9]+-nemokeys-/, '')} #${i}: ` +
  `${(role.rules as Rule[])[i]!.resources.join(',')} ${(role.rules as Rule[])[i]!.verbs.join(',')}`;

/** The roles for people (test/roles.test.ts): no component's identity holds them. */
const withoutUserRoles = (objs: K8sObject[]) =>
  objs.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] !== 'user-roles');

function capture(lines: string[]): Writable {
  return new Writable({
    write(chunk, _e, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
}

function kubectlApply(text: string): Promise<void> {
  return new Promise<void>((res, rej) => {
    const c = execFile(
      clusterKubectl(),
      ['--kubeconfig', clusterKubeconfig(), 'apply', '--server-side', '--field-manager=nemokeys-chart-test', '-f', '-'],
      (err, _o, stderr) => (err ? rej(new Error(stderr)) : res()),
    );
    c.stdin!.end(text);
  });
}

interface Outcome {
  /** The first step that did not complete, if any. */
  failedStep?: string;
  /** Log lines of the operator or gateway that report an RBAC refusal. */
  refused: string[];
}

/** Installs the chart (minus `drop`ped rules) under a fresh release and runs the key lifecycle against it. */
async function lifecycle(opts: { stepTimeoutMs: number; drop?: string }): Promise<Outcome> {
  const id = Math.random().toString(36).slice(2, 7);
  const release = `rb${id}`;
  const system = `chart-rbac-${id}`; // release namespace = records namespace
  const app = `chart-rbac-app-${id}`;
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const custom = admin.makeApiClient(CustomObjectsApi);
  const logs: string[] = [];
  let op: RunningOperator | undefined;
  let gw: RunningGateway | undefined;
  const upstream = await startDemoUpstream();
  let failedStep: string | undefined;
  const step = async (name: string, fn: () => Promise<unknown>) => {
    if (failedStep) return;
    try {
      await fn();
    } catch (err) {
      failedStep = `${name}: ${(err as Error).message}`;
    }
  };
  const within = <T>(p: Promise<T>, what: string) =>
    Promise.race([
      p,
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error(`timed out: ${what}`)), opts.stepTimeoutMs).unref(),
      ),
    ]);
  const getKey = async () =>
    (await custom.getNamespacedCustomObject({ ...AK, namespace: app, name: 'checkout' })) as { status?: ApiKeyStatus };
  const plaintext = async () =>
    Buffer.from(
      (await core.readNamespacedSecret({ namespace: app, name: 'checkout' })).data!['api-key']!,
      'base64',
    ).toString();
  const chat = async (key: string) => {
    const r = await fetch(`${gw!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.arrayBuffer();
    return r.status;
  };
  const until = (fn: () => Promise<unknown>, what: string) =>
    eventually(async () => !!(await fn()), opts.stepTimeoutMs, what);
  try {
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    for (const name of [system, app]) await core.createNamespace({ body: { metadata: { name } } });
    // The audit trail guard covers only this run's app namespace: cluster-wide it would refuse every other
    // test file's operator (test/audit-trail-guard.test.ts). Here the operator writes trails behind it.
    const objs = withoutUserRoles(
      await renderChart(helm!, {
        release,
        namespace: system,
        set: { 'auditTrailGuard.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name': app },
      }),
    );
    for (const role of objs.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')) {
      role.rules = (role.rules as Rule[]).filter((_, i) => ruleName(role, i) !== opts.drop);
    }
    // Installed as `helm install` would, minus the Deployment's pods (no kubelet here).
    await kubectlApply(objs.map((o) => stringify(o)).join('---\n'));
    const dir = await mkdtemp(join(tmpdir(), 'nemokeys-rbac-'));
    const opKubeconfig = join(dir, 'operator.kubeconfig');
    await writeFile(opKubeconfig, (await saKubeConfig(system, `${release}-nemokeys-operator`)).exportConfig(), {
      mode: 0o600,
    });
    op = await runOperator({
      kubeconfig: opKubeconfig,
      recordsNamespace: system,
      metricsPort: 0,
      healthPort: 0,
      bindAddress: '127.0.0.1',
      logLevel: 'debug',
      leaderElection: true,
      leaseNamespace: system,
      identity: `op-${id}`,
      logDestination: capture(logs),
      usageFoldAfterMs: 5_000,
      usageFoldPeriodMs: 300,
    });
    gw = await runGateway({
      upstream: upstream.url,
      recordsNamespace: system,
      kubeConfig: await saKubeConfig(system, `${release}-nemokeys-gateway`),
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      gatewayId: `gw-${id}`,
      reportIntervalMs: 200,
      logger: pino({ level: 'debug' }, capture(logs)),
    });

    await step('gateway syncs the records', () => within(gw!.synced, 'gateway sync'));
    await step('operator takes the leader Lease', () => until(async () => op!.isLeader(), 'leadership'));
    await step('Team and ApiKey with a restart target are created', async () => {
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.team.plural,
        namespace: app,
        body: {
          apiVersion: API_VERSION,
          kind: 'Team',
          metadata: { name: 'payments' },
          spec: { allowedModels: ['gpt-4o-mini'] },
        },
      });
      await admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
        namespace: app,
        body: {
          metadata: { name: 'checkout' },
          spec: {
            selector: { matchLabels: { app: 'checkout' } },
            template: {
              metadata: { labels: { app: 'checkout' } },
              spec: { containers: [{ name: 'app', image: 'example.invalid/checkout:1' }] },
            },
          },
        },
      });
      await custom.createNamespacedCustomObject({
        ...AK,
        namespace: app,
        body: {
          apiVersion: API_VERSION,
          kind: 'ApiKey',
          metadata: { name: 'checkout' },
          spec: { team: 'payments', rotation: { restartTargets: [{ kind: 'Deployment', name: 'checkout' }] } },
        },
      });
    });
    let first = '';
    await step('ApiKey becomes Ready with its record and an Event', async () => {
      await until(async () => {
        const s = (await getKey()).status;
        first = s?.currentKeyId ?? '';
        return s?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && first;
      }, 'ApiKey Ready');
      await until(
        async () =>
          (await core.listNamespacedSecret({ namespace: system, labelSelector: `${LABELS.record}=true` })).items.some(
            (r) => r.metadata?.labels?.[LABELS.keyId] === first,
          ),
        'record',
      );
      await until(async () => (await core.listNamespacedEvent({ namespace: app })).items.length > 0, 'an Event');
    });
    await step('the gateway serves the key and its usage reaches the status', async () => {
      const key = await plaintext();
      await until(async () => (await chat(key)) === 200, 'gateway accepts the key');
      await chat(key);
      await until(async () => ((await getKey()).status?.usage?.requests ?? 0) >= 2, 'usage in status');
    });
    await step("a gone replica's usage report folds into the archive and is deleted", async () => {
      const gone = usageConfigMap(
        {
          gateway: `gone-${id}`,
          updatedAt: new Date(Date.now() - 60_000).toISOString(),
          keys: { [first]: { requests: 1, credits: 1, lastUsedAt: new Date(Date.now() - 60_000).toISOString() } },
        },
        system,
      );
      await core.createNamespacedConfigMap({ namespace: system, body: gone });
      await until(
        async () =>
          (
            await core.listNamespacedConfigMap({ namespace: system, labelSelector: `${LABELS.usage}=true` })
          ).items.every((c) => c.metadata?.name !== gone.metadata!.name),
        'folded report deleted',
      );
      await until(async () => ((await getKey()).status?.usage?.requests ?? 0) >= 3, 'folded usage still in status');
    });
    let second = '';
    await step('rotation: successor served, restart target annotated', async () => {
      await patchMetadata(
        kubeClientFor(admin),
        { apiVersion: API_VERSION, kind: 'ApiKey', namespace: app, name: 'checkout' },
        { annotations: { [ANNOTATIONS.rotate]: String(Date.now()) } },
        { fieldManager: 'nemokeys-chart-test' },
      );
      await until(async () => {
        second = (await getKey()).status?.currentKeyId ?? '';
        return second && second !== first;
      }, 'successor key id');
      await until(async () => (await chat(await plaintext())) === 200, 'successor accepted');
      await until(
        async () =>
          (
            await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: app, name: 'checkout' })
          ).spec?.template.metadata?.annotations?.[ANNOTATIONS.restartedFor]?.includes(second),
        'restart target annotated',
      );
    });
    await step('deletion: the finalizer removes the records, the ApiKey goes', async () => {
      await custom.deleteNamespacedCustomObject({ ...AK, namespace: app, name: 'checkout' });
      await until(
        async () =>
          !(await core.listNamespacedSecret({ namespace: system, labelSelector: `${LABELS.record}=true` })).items.some(
            (r) => [first, second].includes(r.metadata?.labels?.[LABELS.keyId] ?? ''),
          ),
        'records removed',
      );
      await until(
        async () =>
          getKey().then(
            () => false,
            () => true,
          ),
        'ApiKey gone',
      );
    });
  } finally {
    await gw?.stop();
    await op?.stop();
    await upstream.close();
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.deleteClusterRoleBinding({ name: `${release}-nemokeys-operator` }).catch(() => {});
    await rbac.deleteClusterRole({ name: `${release}-nemokeys-operator` }).catch(() => {});
    const guard = admin.makeApiClient(AdmissionregistrationV1Api);
    await guard
      .deleteValidatingAdmissionPolicyBinding({ name: `${release}-nemokeys-audit-trail-guard` })
      .catch(() => {});
    await guard.deleteValidatingAdmissionPolicy({ name: `${release}-nemokeys-audit-trail-guard` }).catch(() => {});
  }
  // This operator watches every namespace: another test file's audit trail guard (an admission policy, not
  // RBAC) may refuse it in that file's namespace. Refusals by this release's own guard still count.
  const otherGuard = (l: string) => l.includes('ValidatingAdmissionPolicy') && !l.includes(release);
  return { failedStep, refused: logs.filter((l) => /forbidden|\b403\b/i.test(l) && !otherGuard(l)) };
}

/** Rules no scenario here can exercise, and why. Anything else the chart grants must be needed. */
const UNEXERCISABLE: Record<string, string> = {
  'ClusterRole operator #3: apikeys/finalizers update':
    'only checked by the OwnerReferencesPermissionEnforcement admission plugin, which this API server does not enable',
};

/**
 * One step timeout for both checks: the full chart passing within it is what makes a dropped rule's failure
 * mean "this right is needed" rather than "the machine was slow".
 */
const STEP_TIMEOUT_MS = 10_000;

describe.skipIf(!helm || !hasCluster())('chart RBAC with the real operator and gateway', () => {
  it('is sufficient: the whole key lifecycle completes and nothing is refused', async () => {
    const outcome = await lifecycle({ stepTimeoutMs: STEP_TIMEOUT_MS });
    expect(outcome).toEqual({ failedStep: undefined, refused: [] });
  }, 240_000);

  it('is minimal: without any one rule, a lifecycle step fails or is refused', async () => {
    const objs = withoutUserRoles(await renderChart(helm!, { release: 'rbx', namespace: 'x' }));
    const rules = objs
      .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
      .flatMap((role) => (role.rules as Rule[]).map((_, i) => ruleName(role, i)));
    expect(rules).toEqual(expect.arrayContaining(Object.keys(UNEXERCISABLE)));
    const unneeded: string[] = [];
    for (const drop of rules.filter((r) => !(r in UNEXERCISABLE))) {
      const outcome = await lifecycle({ stepTimeoutMs: STEP_TIMEOUT_MS, drop });
      if (!outcome.failedStep && outcome.refused.length === 0) unneeded.push(drop);
    }
    expect(
      unneeded,
      'the lifecycle passed without these rules: drop them from the chart or test what needs them',
    ).toEqual([]);
  }, 900_000);
});
