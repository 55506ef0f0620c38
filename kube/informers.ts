// Ready-made informers for what nemokeys watches: Secrets (always with a label selector, so memory
// does not grow with the cluster's Secrets) and our custom resources. List and watch both return the
// API server's JSON (timestamps as strings). Lists are chunked, and every cached object is compacted
// (kube/compact.ts): caches hold what reconciling reads, not what the API server stores.
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { listObjects } from './apply.ts';
import type { CachedInformer } from './cache-types.ts';
import { compactCustomObject, compactSecret } from './compact.ts';
import { createInformer, type InformerOptions } from './informer.ts';
import { resourcePath, SECRETS, type ResourceType } from './resources.ts';

type CommonOptions = Omit<InformerOptions<never>, 'path' | 'list' | 'decode' | 'labelSelector' | 'transform'> &
  Required<Pick<InformerOptions<never>, 'kube'>>;

export function secretInformer(
  opts: CommonOptions & {
    /** Omit to watch every namespace (the operator's workload Secrets). */
    namespace?: string;
    /** Required: an unselective Secret watch would cache every Secret of the cluster. */
    labelSelector: string;
    /** Default: compactSecret (drops managedFields and other metadata no reconcile reads). */
    transform?: (secret: V1Secret) => V1Secret;
  },
): CachedInformer<V1Secret> {
  if (!opts.labelSelector) throw new Error('secretInformer: a label selector is required');
  const { kube, namespace, labelSelector } = opts;
  return createInformer<V1Secret>({
    ...opts,
    resource: opts.resource ?? 'secrets',
    path: resourcePath(SECRETS, { namespace }),
    labelSelector,
    list: (page) => listObjects<V1Secret>(kube, SECRETS, { namespace, labelSelector, ...page }),
    transform: opts.transform ?? compactSecret,
  });
}

export function customObjectInformer<T extends KubernetesObject>(
  opts: CommonOptions & {
    group: string;
    version: string;
    plural: string;
    namespace?: string;
    labelSelector?: string;
    /** Default: compactCustomObject (managedFields pruned to who wrote spec / metadata, when). */
    transform?: (obj: T) => T;
  },
): CachedInformer<T> {
  const { kube, group, version, plural, namespace, labelSelector } = opts;
  const type: ResourceType = { group, version, plural, namespaced: true };
  return createInformer<T>({
    ...opts,
    resource: opts.resource ?? plural,
    path: resourcePath(type, { namespace }),
    labelSelector,
    list: (page) => listObjects<T>(kube, type, { namespace, labelSelector, ...page }),
    transform: opts.transform ?? compactCustomObject,
  });
}
