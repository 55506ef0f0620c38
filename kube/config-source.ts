// Where the operator and gateway get their cluster credentials, in the order users expect from
// controller-runtime: --kubeconfig, then $KUBECONFIG, then the Pod's ServiceAccount, then ~/.kube/config.
// Shared by the lean loader (kube/kubeconfig.ts: operator, gateway) and client-node's (kube/config.ts:
// CLI, keys page), so both find the same file.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type KubeConfigSource =
  | { kind: 'flag'; path: string }
  | { kind: 'env'; paths: string[] }
  | { kind: 'in-cluster' }
  | { kind: 'home'; path: string };

export interface KubeConfigEnv {
  env: Record<string, string | undefined>;
  exists: (path: string) => boolean;
  home: string;
  serviceAccountDir: string;
}

export const defaultKubeConfigEnv = (): KubeConfigEnv => ({
  env: process.env,
  exists: existsSync,
  home: homedir(),
  serviceAccountDir: SERVICE_ACCOUNT_DIR,
});

/** Pure: decides which source to load, or explains why there is none. */
export function resolveKubeConfigSource(flagPath: string | undefined, e: KubeConfigEnv): KubeConfigSource {
  if (flagPath) {
    if (!e.exists(flagPath)) throw new Error(`--kubeconfig ${flagPath}: file not found`);
    return { kind: 'flag', path: flagPath };
  }
  const envPaths = (e.env.KUBECONFIG ?? '').split(delimiter).filter((p) => p.length > 0);
  if (envPaths.length > 0) {
    const present = envPaths.filter((p) => e.exists(p));
    if (present.length === 0) throw new Error(`KUBECONFIG=${e.env.KUBECONFIG}: none of these files exist`);
    return { kind: 'env', paths: present };
  }
  if (e.env.KUBERNETES_SERVICE_HOST && e.exists(join(e.serviceAccountDir, 'token'))) return { kind: 'in-cluster' };
  const homeConfig = join(e.home, '.kube', 'config');
  if (e.exists(homeConfig)) return { kind: 'home', path: homeConfig };
  throw new Error(
    'no Kubernetes configuration found: pass --kubeconfig PATH, set KUBECONFIG, run in a Pod ' +
      `with a ServiceAccount token, or create ${homeConfig}`,
  );
}

export function describeKubeConfigSource(s: KubeConfigSource): string {
  switch (s.kind) {
    case 'flag':
      return `--kubeconfig ${s.path}`;
    case 'env':
      return `KUBECONFIG ${s.paths.join(delimiter)}`;
    case 'in-cluster':
      return 'in-cluster ServiceAccount';
    case 'home':
      return s.path;
  }
}
