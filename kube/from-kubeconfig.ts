// A KubeClient (kube/client.ts) for a client-node KubeConfig: the CLI, the keys page and tests hold
// KubeConfigs and call code shared with the operator and gateway, which take a KubeClient. One client per
// KubeConfig, so its calls share one pool of keep-alive connections.
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from './client.ts';
import { connectionFromKubeConfigText } from './kubeconfig.ts';

const clients = new WeakMap<KubeConfig, KubeClient>();

export function kubeClientFor(kc: KubeConfig, userAgent?: string): KubeClient {
  let client = clients.get(kc);
  if (!client) {
    client = new KubeClient(connectionFromKubeConfigText(kc.exportConfig()), { userAgent });
    clients.set(kc, client);
  }
  return client;
}
