// What a control plane looks like on disk and on the command line. Shared by the attached
// (tests) and detached (`nemokeys dev`) modes so both run exactly the same flags.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPki, writeAdminKubeconfig, type Pki } from './certs.ts';
import { prepareControllerManager, type ControllerManagerPlan } from './controller-manager.ts';
import { freePort, httpsGet, waitFor, type TlsClient } from './process.ts';

export interface Plan {
  dir: string;
  etcdPort: number;
  peerPort: number;
  apiPort: number;
  server: string;
  kubeconfigPath: string;
  pki: Pki;
  logs: { etcd: string; apiserver: string };
  controllerManager: ControllerManagerPlan;
}

export const SA_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** Picks ports, writes the PKI and the admin kubeconfig into `dir`. */
export async function preparePlan(dir: string): Promise<Plan> {
  mkdirSync(dir, { recursive: true });
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const pki = createPki(dir);
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeAdminKubeconfig(kubeconfigPath, server, pki);
  return {
    dir,
    etcdPort,
    peerPort,
    apiPort,
    server,
    kubeconfigPath,
    pki,
    logs: { etcd: join(dir, 'etcd.log'), apiserver: join(dir, 'kube-apiserver.log') },
    controllerManager: prepareControllerManager(dir, server, pki),
  };
}

export function etcdArgs(p: Plan): string[] {
  const client = `http://127.0.0.1:${p.etcdPort}`;
  const peer = `http://127.0.0.1:${p.peerPort}`;
  return [
    '--name=nemokeys',
    `--data-dir=${join(p.dir, 'etcd-data')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=nemokeys=${peer}`,
    // Test data is disposable: skipping fsync makes etcd (and so every API write) much faster.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

export function apiserverArgs(p: Plan): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${p.etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${p.apiPort}`,
    `--tls-cert-file=${p.pki.servingCert}`,
    `--tls-private-key-file=${p.pki.servingKey}`,
    `--client-ca-file=${p.pki.caCert}`,
    // RBAC only (no AlwaysAllow): tests must prove our Roles are sufficient.
    '--authorization-mode=RBAC',
    `--service-account-issuer=${SA_ISSUER}`,
    `--service-account-key-file=${p.pki.saPub}`,
    `--service-account-signing-key-file=${p.pki.saKey}`,
    `--token-auth-file=${p.pki.tokenFile}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    `--cert-dir=${join(p.dir, 'apiserver-certs')}`,
    // No kubelets or pods exist here; a loopback endpoint for the `kubernetes` Service is pointless.
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    '--profiling=false',
    // Open watches (the controller-manager's, the operator's) otherwise hold a stopping API server until
    // it is killed: end them within a second so a restart takes a moment, not the kill timeout.
    '--shutdown-watch-termination-grace-period=1s',
  ];
}

export function tlsClient(p: Pick<Plan, 'pki'>): TlsClient {
  return { ca: readFileSync(p.pki.caCert), cert: readFileSync(p.pki.adminCert), key: readFileSync(p.pki.adminKey) };
}

export async function waitEtcdReady(p: Plan, died: () => string | undefined, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'etcd /health',
    async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${p.etcdPort}/health`, { signal: AbortSignal.timeout(2000) });
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      } catch {
        return false;
      }
    },
    { timeoutMs, died },
  );
}

/** Ready = /readyz is 200 and the bootstrap controller has created namespace `default`. */
export async function waitApiserverReady(p: Plan, died: () => string | undefined, timeoutMs = 180_000): Promise<void> {
  const tls = tlsClient(p);
  await waitFor('kube-apiserver /readyz', async () => (await httpsGet(`${p.server}/readyz`, tls)).status === 200, {
    timeoutMs,
    died,
  });
  await waitFor(
    'namespace default',
    async () => (await httpsGet(`${p.server}/api/v1/namespaces/default`, tls)).status === 200,
    { timeoutMs, died },
  );
}
