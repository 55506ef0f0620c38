// A fresh control plane for an operator benchmark (its own etcd + kube-apiserver, so no other
// tenant's objects or load are in the numbers), with the CRDs, a keys namespace, a records namespace
// and one Team; plus bulk ApiKey creation with bounded concurrency and a free-port helper.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { reuseConnections } from '../kube/connections.ts';
import { installCrds, startControlPlane, type ControlPlane } from '../controlplane/controlplane.ts';

export interface BenchEnv {
  cp: ControlPlane;
  kc: KubeConfig;
  namespace: string;
  recordsNamespace: string;
  team: string;
}

export async function startBenchEnv(log: (line: string) => void): Promise<BenchEnv> {
  const cp = await startControlPlane({ log });
  // The bench's own client (creates, the ceiling, readiness watch) keeps its connections too, so the
  // ceiling is the API server's, not the cost of a TLS handshake per request.
  const kc = reuseConnections(cp.kubeConfig());
  await installCrds(cp, crdYaml());
  const env: BenchEnv = { cp, kc, namespace: 'bench-keys', recordsNamespace: 'bench-records', team: 'bench' };
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of [env.namespace, env.recordsNamespace])
    await core.createNamespace({ body: { metadata: { name } } });
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: KINDS.team.plural,
    namespace: env.namespace,
    body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name: env.team }, spec: { allowedModels: ['*'] } },
  });
  return env;
}

/** Creates ApiKeys `${prefix}-0..n-1` with `concurrency` requests in flight. */
export async function createApiKeys(env: BenchEnv, prefix: string, n: number, concurrency = 16): Promise<void> {
  const custom = env.kc.makeApiClient(CustomObjectsApi);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.apiKey.plural,
        namespace: env.namespace,
        body: {
          apiVersion: API_VERSION,
          kind: 'ApiKey',
          metadata: { name: `${prefix}-${i}` },
          spec: { team: env.team, expiration: '90d' },
        },
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

export const mib = (bytes: number | undefined): string =>
  bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

export { freePort } from '../controlplane/process.ts';
