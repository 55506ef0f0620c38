// Access to the shared control plane started by test/global-setup.ts. Integration tests use
// `describe.skipIf(!hasCluster())` so a machine without Go skips them (global setup warns loudly;
// in CI it fails instead, so skipping can never hide there).
import { inject } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { serviceAccountKubeConfig } from '../../controlplane/controlplane.ts';
import { isApiError } from '../../kube/errors.ts';

export function hasCluster(): boolean {
  return !!inject('kubeconfig');
}

/** Path of the shared cluster's admin kubeconfig; throws if there is no cluster. */
export function clusterKubeconfig(): string {
  const path = inject('kubeconfig');
  if (!path) throw new Error('no test control plane (see the warning printed by test/global-setup.ts)');
  return path;
}

/** Path of a kubectl binary matching the cluster's version. */
export function clusterKubectl(): string {
  const path = inject('kubectl');
  if (!path) throw new Error('no test control plane (see the warning printed by test/global-setup.ts)');
  return path;
}

/** Admin (system:masters) client config for the shared cluster. */
export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(clusterKubeconfig());
  return kc;
}

/** Bearer-token client config for ServiceAccount ns/name on the shared cluster (RBAC applies). */
export function saKubeConfig(namespace: string, name: string): Promise<KubeConfig> {
  return serviceAccountKubeConfig(adminKubeConfig(), namespace, name);
}

/** The HTTP status a client-node or KubeClient call ends with: 200 when it succeeds, the API server's code otherwise. */
export async function httpStatusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (isApiError(err)) return err.code;
    throw err;
  }
}

/**
 * Admin credentials (of the shared cluster unless `admin` is given) that act as `user` (Impersonate-User): RBAC
 * judges the request as that user, who holds only what the test binds to it. No groups: bindings name the user.
 */
export function impersonatedKubeConfig(user: string, admin: KubeConfig = adminKubeConfig()): KubeConfig {
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ ...admin.getCurrentUser()!, name: user, impersonateUser: user }],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  });
  return kc;
}
