// Keep-alive connections to the API server. client-node 2.0 builds a new undici Agent — a new
// connection pool — for every request (KubeConfig.applySecurityAuthentication → createDispatcher), so
// every API call opens a new TCP + TLS connection and the old ones linger until they time out: at a
// few hundred writes per second that is a TLS handshake per write on both sides and hundreds of open
// sockets with their TLS buffers (docs/design.md §7, bench/README.md "Operator"). We reuse one Agent
// per distinct set of connection options, so credentials that change (a rotated client certificate
// file, a new CA) still get a pool of their own.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

type CreateDispatcher = (cluster: unknown, agentOptions: Record<string, unknown>) => unknown;

const reused = new WeakSet<KubeConfig>();

function optionsKey(cluster: unknown, agentOptions: Record<string, unknown>): string {
  const h = createHash('sha256');
  const c = (cluster ?? {}) as { name?: string; server?: string; proxyUrl?: string; skipTLSVerify?: boolean };
  h.update(JSON.stringify([c.name, c.server, c.proxyUrl, c.skipTLSVerify]));
  for (const k of Object.keys(agentOptions).sort()) {
    const v = agentOptions[k];
    h.update(`\0${k}=`);
    if (v === undefined) continue;
    if (typeof v === 'string' || Buffer.isBuffer(v)) h.update(v);
    else h.update(JSON.stringify(v));
  }
  return h.digest('base64');
}

/** Makes every request of `kc` share one connection pool per distinct connection options. Idempotent. */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  if (reused.has(kc)) return kc;
  const target = kc as unknown as { createDispatcher?: CreateDispatcher };
  const create = target.createDispatcher;
  if (typeof create !== 'function') return kc; // a client-node without per-request dispatchers
  const pools = new Map<string, unknown>();
  target.createDispatcher = function (cluster, agentOptions) {
    const key = optionsKey(cluster, agentOptions);
    if (!pools.has(key)) pools.set(key, create.call(this, cluster, agentOptions));
    return pools.get(key);
  };
  reused.add(kc);
  return kc;
}
