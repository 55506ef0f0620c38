// A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager, RBAC on, no scheduler
// or kubelet) for integration tests. Children are attached: they die with this process.
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { auditArgs, type AuditWebhookOptions } from './audit.ts';
import { ensureBinaries, type Binaries } from './build.ts';
import { controllerManagerArgs, waitControllerManagerReady } from './controller-manager.ts';
import { apiserverArgs, etcdArgs, preparePlan, tlsClient, waitApiserverReady, waitEtcdReady } from './plan.ts';
import { logTail, spawnLogged, stopChild, waitFor } from './process.ts';

export interface ControlPlaneOptions {
  /** Working dir (certs, etcd data, logs, kubeconfig). Default: a fresh temp dir removed by stop(). */
  dir?: string;
  /** Kubernetes version, see build.ts. */
  version?: string;
  log?: (line: string) => void;
  /** Audit Policy + webhook backend posting to this receiver (controlplane/audit.ts). Default: no auditing. */
  audit?: AuditWebhookOptions;
}

export interface ControlPlane {
  dir: string;
  server: string;
  kubeconfigPath: string;
  kubectl: string;
  version: string;
  /** Admin (system:masters) client config. */
  kubeConfig(): KubeConfig;
  /** Bearer-token config for ServiceAccount ns/name (created if missing): RBAC decides what it may do. */
  serviceAccountKubeConfig(namespace: string, name: string): Promise<KubeConfig>;
  /** Stops kube-apiserver only (etcd keeps the data); startApiServer brings it back on the same port. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

const exitedLog = (child: ChildProcess, log: string) => () =>
  child.exitCode !== null || child.signalCode !== null
    ? `exit ${child.exitCode ?? child.signalCode}; last log lines of ${log}:\n${logTail(log)}`
    : undefined;

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[controlplane] ${l}\n`));
  const bins = await ensureBinaries({ version: opts.version, log });
  const ownsDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'nemokeys-cp-'));
  const started = Date.now();
  const plan = await preparePlan(dir);
  let etcd: ChildProcess | undefined;
  let apiserver: ChildProcess | undefined;
  let controllerManager: ChildProcess | undefined;

  const startApiServer = async () => {
    if (apiserver && apiserver.exitCode === null && apiserver.signalCode === null) return;
    const args = [...apiserverArgs(plan), ...(opts.audit ? auditArgs(dir, opts.audit) : [])];
    const child = spawnLogged(bins.kubeApiserver, args, { logFile: plan.logs.apiserver });
    apiserver = child;
    await waitApiserverReady(plan, exitedLog(child, plan.logs.apiserver));
  };
  const stopApiServer = async () => {
    if (apiserver) await stopChild(apiserver);
  };
  const stop = async () => {
    if (controllerManager) await stopChild(controllerManager);
    await stopApiServer();
    if (etcd) await stopChild(etcd);
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const e = spawnLogged(bins.etcd, etcdArgs(plan), { logFile: plan.logs.etcd });
    etcd = e;
    await waitEtcdReady(plan, exitedLog(e, plan.logs.etcd));
    await startApiServer();
    const cm = plan.controllerManager;
    controllerManager = spawnLogged(bins.kubeControllerManager, controllerManagerArgs(cm, plan.pki), {
      logFile: cm.log,
    });
    await waitControllerManagerReady(plan.server, tlsClient(plan), exitedLog(controllerManager, cm.log));
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  log(`control plane v${bins.version} ready at ${plan.server} in ${Date.now() - started} ms (dir ${dir})`);

  const kubeConfig = () => {
    const kc = new KubeConfig();
    kc.loadFromFile(plan.kubeconfigPath);
    return kc;
  };
  return {
    dir,
    server: plan.server,
    kubeconfigPath: plan.kubeconfigPath,
    kubectl: bins.kubectl,
    version: bins.version,
    kubeConfig,
    serviceAccountKubeConfig: (ns, name) => serviceAccountKubeConfig(kubeConfig(), ns, name),
    stopApiServer,
    startApiServer,
    stop,
  };
}

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  }
}

/**
 * Creates (if missing) namespace + ServiceAccount, mints a token via the TokenRequest API and
 * returns a bearer-token KubeConfig for it. Only needs an admin KubeConfig, so tests using the
 * shared cluster (a kubeconfig path) can call it too.
 */
export async function serviceAccountKubeConfig(
  admin: KubeConfig,
  namespace: string,
  name: string,
): Promise<KubeConfig> {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('admin KubeConfig has no current cluster');
  const core = admin.makeApiClient(CoreV1Api);
  await ignoreConflict(core.createNamespace({ body: { metadata: { name: namespace } } }));
  await ignoreConflict(core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }));
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  const kc = new KubeConfig();
  const user = `system:serviceaccount:${namespace}:${name}`;
  kc.loadFromOptions({
    clusters: [{ name: cluster.name, server: cluster.server, caData }],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: cluster.name, user, namespace }],
    currentContext: user,
  });
  return kc;
}

function kubectl(
  cp: Pick<ControlPlane, 'kubectl' | 'kubeconfigPath'>,
  args: string[],
  stdin?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cp.kubectl,
      ['--kubeconfig', cp.kubeconfigPath, ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr || err.message}`));
        else resolve(stdout);
      },
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/**
 * Server-side applies `yamlText` (any kinds) and waits until every CRD in it is Established AND its
 * storage answers a list, so callers can create and list custom resources right away. Returns the CRD names.
 */
export async function installCrds(
  cp: Pick<ControlPlane, 'kubectl' | 'kubeconfigPath'>,
  yamlText: string,
  timeoutSeconds = 60,
): Promise<string[]> {
  const out = await kubectl(
    cp,
    ['apply', '--server-side', '--field-manager=nemokeys-test', '--force-conflicts', '-o', 'name', '-f', '-'],
    yamlText,
  );
  const crds = out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('customresourcedefinition'));
  if (crds.length > 0) {
    await kubectl(cp, ['wait', '--for=condition=Established', `--timeout=${timeoutSeconds}s`, ...crds]);
  }
  const names = crds.map((c) => c.slice(c.indexOf('/') + 1));
  await waitCrdStorageReady(cp.kubeconfigPath, names, timeoutSeconds * 1000);
  return names;
}

/**
 * Established is not enough: the API server builds a new CRD's watch cache after that, and until then
 * every list answers `429 storage is (re)initializing` (client-node does not retry it; kubectl does).
 * Ready = a cluster-wide list of each served version succeeds.
 */
async function waitCrdStorageReady(kubeconfigPath: string, names: string[], timeoutMs: number): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const name of names) {
    const crd = await ext.readCustomResourceDefinition({ name });
    for (const v of crd.spec.versions.filter((v) => v.served)) {
      const target = { group: crd.spec.group, version: v.name, plural: crd.spec.names.plural, limit: 1 };
      await waitFor(
        `${name} ${v.name} storage ready (a list answers)`,
        async () => {
          try {
            await custom.listClusterCustomObject(target);
            return true;
          } catch (err) {
            if (err instanceof ApiException && err.code === 429) return false;
            throw err;
          }
        },
        { timeoutMs },
      );
    }
  }
}

export type { Binaries };
