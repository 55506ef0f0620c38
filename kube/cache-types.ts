import type { KubernetesObject } from '@kubernetes/client-node';

// The watch-cache contract between informers (kube/) and their consumers (operator, gateway).

/** A read-only view of an informer's cache. Objects must be treated as immutable. */
export interface ObjectCache<T extends KubernetesObject> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(namespace?: string): T[];
}

export type ChangeKind = 'add' | 'update' | 'delete';

export interface CachedInformer<T extends KubernetesObject> extends ObjectCache<T> {
  /** Handlers must only enqueue keys (they are not awaited and must not throw). */
  onChange(handler: (obj: T, change: ChangeKind) => void): void;
  /** Resolves after the first full list (like controller-runtime's WaitForCacheSync). */
  start(): Promise<void>;
  stop(): void;
  readonly synced: boolean;
}
