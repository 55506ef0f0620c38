// Lease-based leader election (coordination.k8s.io/v1), the way controller-runtime does it:
// candidates poll the Lease every retryPeriod; the holder renews it; a holder that cannot renew
// within renewDeadline stops leading (the caller stops its controllers / exits); a standby takes
// over once the record has not changed for leaseDuration; a graceful stop releases the lease so a
// standby takes over at once.
import { hostname } from 'node:os';
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createObject, readObject, replaceObject } from '../../kube/apply.ts';
import type { KubeClient } from '../../kube/client.ts';
import { apiErrorMessage, isConflict } from '../../kube/errors.ts';
import { LEASES } from '../../kube/resources.ts';
import {
  decide,
  microTime,
  nextRecord,
  observe,
  releasedRecord,
  type LeaseRecord,
  type Observation,
} from './lease-record.ts';

export const LEADER_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
export const DEFAULT_LEASE_NAME = 'nemokeys-operator-leader';

export function defaultIdentity(): string {
  return process.env.POD_NAME || `${hostname()}_${process.pid}`;
}

export interface LeaderElectionOptions {
  kube: KubeClient;
  namespace: string;
  name?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
  onStartedLeading: () => void;
  /** 'lost': could not renew in time (stop everything now); 'released': we stepped down on stop(). */
  onStoppedLeading: (reason: 'lost' | 'released') => void;
  onNewLeader?: (identity: string) => void;
}

type MaybeLease = { lease: V1Lease; record: LeaseRecord } | undefined;

function toRecord(lease: V1Lease): LeaseRecord {
  const s = lease.spec ?? {};
  const ms = (d: unknown) => (typeof d === 'string' ? Date.parse(d) : 0);
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: ms(s.acquireTime),
    renewTime: ms(s.renewTime),
    leaseTransitions: s.leaseTransitions ?? 0,
  };
}

function toSpec(r: LeaseRecord): V1Lease['spec'] {
  // MicroTime strings (6 fractional digits): a Date would serialize with 3, which MicroTime rejects.
  return {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: microTime(r.acquireTime) as unknown as Date,
    renewTime: microTime(r.renewTime) as unknown as Date,
    leaseTransitions: r.leaseTransitions,
  };
}

export class LeaderElector {
  readonly identity: string;
  private readonly opts: LeaderElectionOptions;
  private readonly kube: KubeClient;
  private readonly name: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observation: Observation | undefined;
  private lastHolder: string | undefined;
  private leading = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(opts: LeaderElectionOptions) {
    this.opts = opts;
    this.identity = opts.identity ?? defaultIdentity();
    this.kube = opts.kube;
    this.name = opts.name ?? DEFAULT_LEASE_NAME;
    this.leaseDurationMs = opts.leaseDurationMs ?? LEADER_DEFAULTS.leaseDurationMs;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? LEADER_DEFAULTS.renewDeadlineMs;
    this.retryPeriodMs = opts.retryPeriodMs ?? LEADER_DEFAULTS.retryPeriodMs;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod');
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => {
      this.opts.log.error({ error: apiErrorMessage(err) }, 'leader election loop crashed');
      if (this.leading) this.stepDown('lost');
    });
  }

  /** Stops campaigning; a leader releases the lease so a standby can take over immediately. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.leading) {
      await this.release();
      this.stepDown('released');
    }
  }

  /** Stops renewing without releasing, as a frozen or killed process would (tests, chaos drills). */
  async abandon(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.leading = false;
  }

  private async run(): Promise<void> {
    const lease = `${this.opts.namespace}/${this.name}`;
    this.opts.log.info({ lease, identity: this.identity }, 'waiting for leader lease');
    while (!this.stopped && !(await this.tryAcquireOrRenew())) await this.sleep(this.jittered());
    if (this.stopped) return;
    this.leading = true;
    this.opts.log.info({ lease, identity: this.identity }, 'acquired leader lease');
    this.opts.onStartedLeading();
    let lastRenew = Date.now();
    while (!this.stopped) {
      await this.sleep(this.retryPeriodMs);
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew >= this.renewDeadlineMs) {
        this.opts.log.error(
          { lease, identity: this.identity, sinceLastRenewMs: Date.now() - lastRenew },
          'failed to renew leader lease within the renew deadline; stepping down',
        );
        this.stepDown('lost');
        return;
      }
    }
  }

  private stepDown(reason: 'lost' | 'released'): void {
    if (!this.leading) return;
    this.leading = false;
    this.opts.onStoppedLeading(reason);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    try {
      const current = await this.withTimeout(this.read());
      if (!current) {
        await this.withTimeout(
          createObject<V1Lease>(this.kube, LEASES, {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.name, namespace: this.opts.namespace },
            spec: toSpec(nextRecord(undefined, this.identity, now, this.leaseDurationMs)),
          }),
        );
        this.noteHolder(this.identity);
        return true;
      }
      this.observation = observe(this.observation, current.record, now);
      this.noteHolder(current.record.holderIdentity);
      if (decide(current.record, this.observation, this.identity, now) === 'held-by-other') return false;
      await this.write(current, nextRecord(current.record, this.identity, now, this.leaseDurationMs));
      this.noteHolder(this.identity);
      return true;
    } catch (err) {
      // 409: someone else wrote first; anything else: API trouble. Either way, not ours this round.
      const level = isConflict(err) ? 'debug' : 'warn';
      this.opts.log[level]({ identity: this.identity, error: apiErrorMessage(err) }, 'leader lease update failed');
      return false;
    }
  }

  private async release(): Promise<void> {
    try {
      const current = await this.withTimeout(this.read());
      if (current?.record.holderIdentity !== this.identity) return;
      await this.withTimeout(this.write(current, releasedRecord(current.record, Date.now())));
      this.opts.log.info({ identity: this.identity }, 'released leader lease');
    } catch (err) {
      this.opts.log.warn(
        { error: apiErrorMessage(err) },
        'could not release leader lease; a standby takes over after it expires',
      );
    }
  }

  private async read(): Promise<MaybeLease> {
    const lease = await readObject<V1Lease>(this.kube, LEASES, this.opts.namespace, this.name);
    return lease ? { lease, record: toRecord(lease) } : undefined;
  }

  private async write(current: NonNullable<MaybeLease>, record: LeaseRecord): Promise<void> {
    // Replace with the resourceVersion we read: a concurrent writer makes this fail with 409.
    await replaceObject<V1Lease>(this.kube, LEASES, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.opts.namespace,
        resourceVersion: current.lease.metadata?.resourceVersion,
      },
      spec: toSpec(record),
    });
  }

  private noteHolder(holder: string): void {
    if (holder && holder !== this.lastHolder) {
      this.lastHolder = holder;
      if (holder !== this.identity) this.opts.log.info({ leader: holder }, 'observed new leader');
      this.opts.onNewLeader?.(holder);
    }
  }

  /** A hung API call must not outlive the renew deadline (the client's own timeout is longer). */
  private withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const ms = Math.min(this.renewDeadlineMs, Math.max(1000, 2 * this.retryPeriodMs));
      timer = setTimeout(() => reject(new Error(`lease API call timed out after ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  private jittered(): number {
    return this.retryPeriodMs * (1 + Math.random() * 0.2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
