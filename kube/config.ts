// client-node's KubeConfig for the CLI and the keys page (people's kubeconfigs: exec plugins, OIDC), found
// the way kube/config-source.ts says. client-node's loadFromDefault silently falls back to
// http://localhost:8080 when nothing is found; we fail with a message that says what was tried instead.
// The operator and gateway use kube/kubeconfig.ts instead (docs/design.md §7).
import { KubeConfig } from '@kubernetes/client-node';
import {
  defaultKubeConfigEnv,
  describeKubeConfigSource,
  resolveKubeConfigSource,
  type KubeConfigEnv,
} from './config-source.ts';
import { reuseConnections } from './connections.ts';
import { applyImpersonation } from './impersonation.ts';

export {
  describeKubeConfigSource,
  resolveKubeConfigSource,
  SERVICE_ACCOUNT_DIR,
  type KubeConfigEnv,
  type KubeConfigSource,
} from './config-source.ts';

export function loadKubeConfig(opts: { kubeconfig?: string; env?: KubeConfigEnv } = {}): KubeConfig {
  const source = resolveKubeConfigSource(opts.kubeconfig, opts.env ?? defaultKubeConfigEnv());
  const kc = new KubeConfig();
  switch (source.kind) {
    case 'flag':
    case 'home':
      kc.loadFromFile(source.path);
      break;
    case 'env': {
      kc.loadFromFile(source.paths[0]!);
      for (const path of source.paths.slice(1)) {
        const more = new KubeConfig();
        more.loadFromFile(path);
        // Like kubectl: the first file that sets current-context wins.
        kc.mergeConfig(more, !!kc.getCurrentContext());
      }
      break;
    }
    case 'in-cluster':
      kc.loadFromCluster();
      break;
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(
      `${describeKubeConfigSource(source)}: no current context with a cluster ` +
        `(current-context is "${kc.getCurrentContext() || ''}")`,
    );
  }
  const files = source.kind === 'env' ? source.paths : source.kind === 'in-cluster' ? [] : [source.path];
  return reuseConnections(applyImpersonation(kc, files));
}
