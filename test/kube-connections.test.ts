// kube/connections.ts against the real API server: the operator's and gateway's KubeConfig
// (loadKubeConfig) keep one pool of keep-alive connections, instead of client-node's default of a new
// connection pool — a new TCP + TLS connection — for every request. New connections are counted with
// undici's own diagnostics channel, which client-node's fetch publishes to.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/config.ts';
import { adminKubeConfig, clusterKubeconfig, hasCluster } from './support/cluster.ts';

const CONNECTED = 'undici:client:connected';
const REQUESTS = 20;

describe.skipIf(!hasCluster())('API server connections', () => {
  let connections = 0;
  const onConnect = () => void connections++;
  beforeEach(() => {
    connections = 0;
    subscribe(CONNECTED, onConnect);
  });
  afterEach(() => unsubscribe(CONNECTED, onConnect));

  const requests = async (kc: KubeConfig) => {
    const core = kc.makeApiClient(CoreV1Api);
    for (let i = 0; i < REQUESTS; i++) await core.readNamespace({ name: 'default' });
    // and a few at once, as the operator's workers do
    await Promise.all(Array.from({ length: 4 }, () => core.readNamespace({ name: 'default' })));
  };

  it('client-node alone opens a new connection per request (why kube/connections.ts exists)', async () => {
    await requests(adminKubeConfig());
    expect(connections).toBeGreaterThanOrEqual(REQUESTS);
  });

  it('loadKubeConfig reuses keep-alive connections: at most one per request in flight', async () => {
    await requests(loadKubeConfig({ kubeconfig: clusterKubeconfig() }));
    expect(connections).toBeGreaterThan(0);
    expect(connections).toBeLessThanOrEqual(4);
  });
});
