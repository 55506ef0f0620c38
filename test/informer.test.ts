// kube/informer.ts against the real API server. The outage is a TCP proxy between the informer and
// the shared kube-apiserver that is cut (listener closed, every connection reset) and restored on the
// same port: to the informer that is exactly an API server going away and coming back, without
// stopping the server the other test files share. A silent watch is the real server frozen with
// SIGSTOP for a moment (then SIGCONT): connections stay open, nothing flows.
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { secretInformer } from '../kube/informers.ts';
import type { CachedInformer, ChangeKind } from '../kube/cache-types.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

class CuttableProxy {
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  private readonly target: { host: string; port: number };
  port = 0;
  constructor(target: { host: string; port: number }) {
    this.target = target;
  }

  async listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }

  close = () => this.cut();
}

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ns = `informer-${randomBytes(3).toString('hex')}`;
const selectorValue = `informer-test-${randomBytes(3).toString('hex')}`;
const LABEL = 'nemokeys.test/informer';

describe.skipIf(!hasCluster())('secret informer against the real API server', () => {
  let admin: KubeConfig;
  let core: CoreV1Api;
  let proxy: CuttableProxy;
  let informer: CachedInformer<V1Secret>;
  const events: Array<{ change: ChangeKind; name: string }> = [];
  const restarts: string[] = [];

  const put = (name: string, labelled: boolean, value = 'v1') =>
    core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name, labels: labelled ? { [LABEL]: selectorValue } : { other: 'x' } },
        data: { k: Buffer.from(value).toString('base64') },
      },
    });

  beforeAll(async () => {
    admin = adminKubeConfig();
    core = admin.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await put('managed-1', true);
    await put('unmanaged-1', false);

    const server = new URL(admin.getCurrentCluster()!.server);
    proxy = new CuttableProxy({ host: server.hostname, port: Number(server.port) });
    await proxy.listen();
    const viaProxy = new KubeConfig();
    viaProxy.loadFromString(admin.exportConfig());
    const cluster = viaProxy.getCurrentCluster()!;
    viaProxy.clusters = viaProxy.clusters.map((c) =>
      c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${proxy.port}` } : c,
    );

    informer = secretInformer({
      kube: kubeClientFor(viaProxy),
      namespace: ns,
      labelSelector: `${LABEL}=${selectorValue}`,
      log: pino({ level: 'silent' }),
      backoff: { baseMs: 100, maxMs: 1000 },
      relistIntervalMs: 0,
      watchdogMs: 0,
      onRestart: (_r, stage) => restarts.push(stage),
    });
    informer.onChange((o, change) => events.push({ change, name: o.metadata!.name! }));
    await informer.start();
  });

  afterAll(async () => {
    informer?.stop();
    await proxy?.close();
    await core?.deleteNamespace({ name: ns }).catch(() => {});
  });

  const names = () =>
    informer
      .list(ns)
      .map((s) => s.metadata!.name!)
      .sort();

  it('lists only the selected Secrets and keeps list and watch objects in the same typed shape', async () => {
    expect(informer.synced).toBe(true);
    expect(names()).toEqual(['managed-1']);
    await put('managed-2', true);
    await put('unmanaged-2', false);
    await until('managed-2 in cache', () => informer.get(ns, 'managed-2'));
    const fromList = informer.get(ns, 'managed-1')!;
    const fromWatch = informer.get(ns, 'managed-2')!;
    // Both paths go through the same compaction (kube/compact.ts): same metadata fields, and nothing
    // that no consumer reads (managedFields) is cached.
    expect(Object.keys(fromList.metadata!).sort()).toEqual(Object.keys(fromWatch.metadata!).sort());
    for (const s of [fromList, fromWatch]) {
      expect(s.metadata).toMatchObject({ namespace: ns, labels: { [LABEL]: selectorValue } });
      expect(s.metadata!.resourceVersion).toMatch(/^\d+$/);
      expect(s.metadata!.managedFields).toBeUndefined();
      expect(s.metadata!.creationTimestamp).toBeDefined();
    }
    expect(Buffer.from(fromWatch.data!.k!, 'base64').toString()).toBe('v1');

    await core.replaceNamespacedSecret({
      name: 'managed-1',
      namespace: ns,
      body: {
        metadata: { name: 'managed-1', labels: { [LABEL]: selectorValue } },
        data: { k: Buffer.from('v2').toString('base64') },
      },
    });
    await until(
      'managed-1 update',
      () => Buffer.from(informer.get(ns, 'managed-1')!.data!.k!, 'base64').toString() === 'v2',
    );
    expect(events.filter((e) => e.name === 'managed-1').map((e) => e.change)).toEqual(['add', 'update']);
  });

  it('recovers after the API server goes away: restarts, catches up on missed changes, re-announces everything', async () => {
    events.length = 0;
    await proxy.cut();
    await until('a restart', () => restarts.length > 0);
    // Changes while the informer is blind.
    await put('managed-3', true);
    await core.deleteNamespacedSecret({ name: 'managed-2', namespace: ns });
    await new Promise((r) => setTimeout(r, 1500));
    expect(informer.get(ns, 'managed-3')).toBeUndefined();
    expect(informer.synced).toBe(true); // the last known state stays readable

    await proxy.listen();
    await until('managed-3 after recovery', () => informer.get(ns, 'managed-3'));
    expect(informer.get(ns, 'managed-2')).toBeUndefined();
    expect(events).toContainEqual({ change: 'update', name: 'managed-1' }); // unchanged, re-announced
    expect(events).toContainEqual({ change: 'add', name: 'managed-3' });
    expect(events).toContainEqual({ change: 'delete', name: 'managed-2' });

    // The watch is live again: new objects still arrive.
    await put('managed-4', true);
    await until('managed-4 after recovery', () => informer.get(ns, 'managed-4'));
    expect(names()).toEqual(['managed-1', 'managed-3', 'managed-4']);
    expect(names().some((n) => n.startsWith('unmanaged'))).toBe(false);
  });

  it('detects a silent watch with the watchdog when the API server freezes (SIGSTOP), and recovers after SIGCONT', async () => {
    const pid = apiserverPid(Number(new URL(admin.getCurrentCluster()!.server).port));
    const frozenRestarts: string[] = [];
    const direct = secretInformer({
      kube: kubeClientFor(admin),
      namespace: ns,
      labelSelector: `${LABEL}=${selectorValue}`,
      log: pino({ level: 'silent' }),
      backoff: { baseMs: 100, maxMs: 500 },
      relistIntervalMs: 0,
      watchdogMs: 1500,
      onRestart: (_r, stage) => frozenRestarts.push(stage),
    });
    const seen: string[] = [];
    direct.onChange((o, change) => seen.push(`${change}:${o.metadata!.name}`));
    try {
      await direct.start();
      seen.length = 0;
      process.kill(pid, 'SIGSTOP');
      try {
        // The watch connection stays open but nothing flows: only the watchdog can notice.
        await until('the watchdog to fire', () => frozenRestarts.includes('watchdog'), 10_000);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await until('re-announce after recovery', () => seen.includes('update:managed-1'));
      await put('managed-5', true);
      await until('managed-5 via the new watch', () => direct.get(ns, 'managed-5'));
    } finally {
      direct.stop();
    }
  });
});

/** The shared kube-apiserver serving `port` (only this run's control plane listens there). */
function apiserverPid(port: number): number {
  const pids = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        return argv[0]!.endsWith('kube-apiserver') && argv.includes(`--secure-port=${port}`);
      } catch {
        return false;
      }
    });
  if (pids.length !== 1) throw new Error(`expected one kube-apiserver on port ${port}, found ${pids.length}`);
  return Number(pids[0]);
}
