// Pure leader-election rules (client-go's leaderelection, for coordination.k8s.io/v1 Lease).
// Expiry is judged by when *we* last saw the record change, on our own clock, not by the holder's
// renewTime: clocks of two nodes may disagree, the time we have been watching it cannot.

export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number;
  renewTime: number;
  leaseTransitions: number;
}

export interface Observation {
  /** The record as last seen, serialized, to detect change. */
  fingerprint: string;
  /** Local time (ms) when that record was first seen. */
  at: number;
}

export const fingerprint = (r: LeaseRecord): string =>
  `${r.holderIdentity}|${r.renewTime}|${r.acquireTime}|${r.leaseTransitions}|${r.leaseDurationSeconds}`;

/** Updates the observation when the record changed since we last looked. */
export function observe(prev: Observation | undefined, record: LeaseRecord, nowMs: number): Observation {
  const fp = fingerprint(record);
  return prev && prev.fingerprint === fp ? prev : { fingerprint: fp, at: nowMs };
}

export type LeaseDecision = 'renew' | 'acquire' | 'held-by-other';

export function decide(record: LeaseRecord, obs: Observation, identity: string, nowMs: number): LeaseDecision {
  if (record.holderIdentity === identity) return 'renew';
  if (!record.holderIdentity) return 'acquire'; // released on graceful shutdown
  return obs.at + record.leaseDurationSeconds * 1000 <= nowMs ? 'acquire' : 'held-by-other';
}

/** The record we write when we renew or take over (a takeover counts one transition). */
export function nextRecord(
  current: LeaseRecord | undefined,
  identity: string,
  nowMs: number,
  leaseDurationMs: number,
): LeaseRecord {
  const ours = current?.holderIdentity === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds: Math.max(1, Math.ceil(leaseDurationMs / 1000)),
    acquireTime: ours ? current!.acquireTime : nowMs,
    renewTime: nowMs,
    leaseTransitions: current ? current.leaseTransitions + (ours ? 0 : 1) : 0,
  };
}

/** What a leader writes when it steps down: no holder, so a standby takes over at once. */
export function releasedRecord(current: LeaseRecord, nowMs: number): LeaseRecord {
  return { ...current, holderIdentity: '', leaseDurationSeconds: 1, renewTime: nowMs };
}

/** Kubernetes MicroTime: RFC 3339 with exactly 6 fractional digits (Date.toISOString has 3). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
