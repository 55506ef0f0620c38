import type { KubernetesObject } from '@kubernetes/client-node';

// Contracts between the operator runtime (work queue, informers, leader election, metrics) and the
// controllers (pure planning + apply). Kept in one place so either side can be built and tested alone.

/** Injected everywhere time matters, so expiry and hand-off are testable without sleeping. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

// The watch-cache types live with the informers in kube/; the operator re-exports them for its controllers.
export type { CachedInformer, ChangeKind, ObjectCache } from '../../kube/cache-types.ts';

export type ReconcileResult = {
  /** Reconcile the same key again after this long even without a change (expiry, hand-off). */
  requeueAfterMs?: number;
};

/** A controller's reconcile: level-triggered, idempotent; throwing means retry with per-key backoff. */
export interface Reconciler {
  readonly name: string;
  reconcile(key: string): Promise<ReconcileResult>;
}

/** `namespace/name` (or `name` for cluster-scoped objects): the only thing handlers put on a queue. */
export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name}` : `${obj.metadata?.name}`;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
