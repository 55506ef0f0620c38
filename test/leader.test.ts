// Lease-based leader election against the real API server, with short durations.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { LeaderElector } from '../operator/runtime/leader.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const ns = `leader-${randomBytes(3).toString('hex')}`;
const timing = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 };

async function until(what: string, f: () => boolean, timeoutMs = 15_000): Promise<number> {
  const start = Date.now();
  while (!f()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

describe.skipIf(!hasCluster())('LeaderElector against the real API server', () => {
  let kc: KubeConfig;
  const electors: LeaderElector[] = [];
  const log = pino({ level: 'silent' });

  function elector(name: string, identity: string, events: string[]) {
    const e = new LeaderElector({
      kube: kubeClientFor(kc),
      namespace: ns,
      name,
      identity,
      log,
      ...timing,
      onStartedLeading: () => events.push('started'),
      onStoppedLeading: (reason) => events.push(`stopped:${reason}`),
    });
    electors.push(e);
    return e;
  }

  beforeAll(async () => {
    kc = adminKubeConfig();
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  });
  afterAll(async () => {
    await Promise.all(electors.map((e) => e.abandon()));
    await kc
      ?.makeApiClient(CoreV1Api)
      .deleteNamespace({ name: ns })
      .catch(() => {});
  });

  it('one leads, the other waits; when the leader stops renewing the standby takes over within the lease duration', async () => {
    const aEvents: string[] = [];
    const bEvents: string[] = [];
    const a = elector('takeover', 'replica-a', aEvents);
    a.start();
    await until('a leads', () => a.isLeader);
    const b = elector('takeover', 'replica-b', bEvents);
    b.start();
    // Several lease durations pass: a keeps renewing, b must keep waiting.
    await new Promise((r) => setTimeout(r, 2 * timing.leaseDurationMs));
    expect(a.isLeader).toBe(true);
    expect(b.isLeader).toBe(false);
    expect(bEvents).toEqual([]);

    await a.abandon(); // frozen leader: no renewals, no release
    const tookMs = await until('b takes over', () => b.isLeader);
    // Expiry is measured from b's last sighting of a renewal: at most leaseDuration plus one retry
    // period (plus jitter and API latency) after a's last renewal.
    expect(tookMs).toBeLessThan(timing.leaseDurationMs + 2 * timing.retryPeriodMs + 1000);
    expect(tookMs).toBeGreaterThanOrEqual(timing.leaseDurationMs - timing.retryPeriodMs - 100);
    expect(bEvents).toEqual(['started']);
    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'takeover', namespace: ns });
    expect(lease.spec?.holderIdentity).toBe('replica-b');
    expect(lease.spec?.leaseTransitions).toBe(1);
  });

  it('a graceful stop releases the lease so the standby takes over at once', async () => {
    const aEvents: string[] = [];
    const a = elector('release', 'replica-a', aEvents);
    a.start();
    await until('a leads', () => a.isLeader);
    const b = elector('release', 'replica-b', []);
    b.start();
    await new Promise((r) => setTimeout(r, 500));
    await a.stop();
    expect(aEvents).toEqual(['started', 'stopped:released']);
    const tookMs = await until('b takes over', () => b.isLeader);
    expect(tookMs).toBeLessThan(timing.leaseDurationMs);
  });

  it('a leader whose lease is taken away steps down within the renew deadline', async () => {
    const events: string[] = [];
    const a = elector('stolen', 'replica-a', events);
    a.start();
    await until('a leads', () => a.isLeader);
    // Someone else holds it now and keeps renewing it.
    const coord = kc.makeApiClient(CoordinationV1Api);
    let stealing = true;
    const steal = (async () => {
      while (stealing) {
        const lease = await coord.readNamespacedLease({ name: 'stolen', namespace: ns });
        const now = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
        await coord
          .replaceNamespacedLease({
            name: 'stolen',
            namespace: ns,
            body: {
              metadata: { name: 'stolen', namespace: ns, resourceVersion: lease.metadata?.resourceVersion },
              spec: {
                ...lease.spec,
                holderIdentity: 'intruder',
                renewTime: now as unknown as Date,
                acquireTime: now as unknown as Date,
              },
            },
          })
          .catch(() => {});
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const tookMs = await until('a steps down', () => !a.isLeader);
    stealing = false;
    await steal;
    expect(events).toEqual(['started', 'stopped:lost']);
    expect(tookMs).toBeLessThan(timing.renewDeadlineMs + 2 * timing.retryPeriodMs + 1000);
  });
});
