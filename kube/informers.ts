// Ready-made informers for what nemokeys watches: Secrets (always with a label selector, so memory
// does not grow with the cluster's Secrets) and our custom resources. They make list and watch
// return the same shape: typed core objects come back from list as class instances with Date
// fields, so raw watch events are deserialized the same way. Lists are chunked, and every cached object
// is compacted (kube/compact.ts): caches hold what reconciling reads, not what the API server stores.
import { CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1Secret } from '@kubernetes/client-node';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import type { CachedInformer } from './cache-types.ts';
import { compactCustomObject, compactSecret } from './compact.ts';
import { createInformer, type InformerOptions, type ListResult } from './informer.ts';

type CommonOptions = Omit<InformerOptions<never>, 'path' | 'list' | 'decode' | 'labelSelector' | 'transform'> &
  Required<Pick<InformerOptions<never>, 'kc'>>;

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
  const core = opts.kc.makeApiClient(CoreV1Api);
  const { namespace, labelSelector } = opts;
  return createInformer<V1Secret>({
    ...opts,
    resource: opts.resource ?? 'secrets',
    path: namespace ? `/api/v1/namespaces/${namespace}/secrets` : '/api/v1/secrets',
    labelSelector,
    list: ({ limit, continue: _continue }) =>
      namespace
        ? core.listNamespacedSecret({ namespace, labelSelector, limit, _continue })
        : core.listSecretForAllNamespaces({ labelSelector, limit, _continue }),
    // Typed list items and raw watch events both become the same plain object: with the default
    // transform, deserializing watch events into V1Secret instances first would be wasted work.
    ...(opts.transform
      ? { decode: (raw: unknown) => ObjectSerializer.deserialize(raw, 'V1Secret', '') as V1Secret }
      : {}),
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
  const custom = opts.kc.makeApiClient(CustomObjectsApi);
  const { group, version, plural, namespace, labelSelector } = opts;
  return createInformer<T>({
    ...opts,
    resource: opts.resource ?? plural,
    path: `/apis/${group}/${version}${namespace ? `/namespaces/${namespace}` : ''}/${plural}`,
    labelSelector,
    list: async ({ limit, continue: _continue }) =>
      (namespace
        ? await custom.listNamespacedCustomObject({
            group,
            version,
            namespace,
            plural,
            labelSelector,
            limit,
            _continue,
          })
        : await custom.listClusterCustomObject({
            group,
            version,
            plural,
            labelSelector,
            limit,
            _continue,
          })) as ListResult<T>,
    transform: opts.transform ?? compactCustomObject,
  });
}
