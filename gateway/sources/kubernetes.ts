import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { decodeRecordSecret, RECORD_SELECTOR, type Decoded } from '../../api/record-secret.ts';
import { listObjects } from '../../kube/apply.ts';
import type { KubeClient } from '../../kube/client.ts';
import { createInformer, type InformerOptions } from '../../kube/informer.ts';
import { resourcePath, SECRETS } from '../../kube/resources.ts';
import type { RecordStore } from '../records/store.ts';
import { createSecretIndex } from './secret-index.ts';

// `--records-namespace NS`: list + watch the labelled record Secrets the operator writes into ONE
// namespace (the gateway's RBAC needs get/list/watch on secrets there, nothing cluster-wide).
// The shared informer (kube/informer.ts) restarts failed watches with backoff, relists periodically
// and keeps its cache meanwhile, so while the API server is unreachable the gateway keeps serving
// from the last good index (synced stays true) and catches up on recovery.
// Every successful list (initial, after a restart, periodic relist) re-confirms the index, so the
// store's lastSyncAt — the "records are stale" alert — moves even when no record changed.

/** What the cache keeps of a record Secret: its name (the key id it must hold) and resourceVersion. */
function recordSecretEssentials(secret: V1Secret): V1Secret {
  const m = secret.metadata ?? {};
  return { metadata: { name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion } };
}

export interface KubernetesSourceOptions {
  kube: KubeClient;
  namespace: string;
  store: RecordStore;
  logger: Logger;
  /** Informer tuning (tests shorten the backoff and watchdog). */
  informer?: Pick<InformerOptions<never>, 'relistIntervalMs' | 'watchdogMs' | 'backoff' | 'onRestart'>;
}

export interface KubernetesSource {
  /** Resolves after the first full list has reached the store; rejects only if stopped before that. */
  readonly synced: Promise<void>;
  /** Record Secrets skipped because they do not hold a valid record. */
  readonly invalid: number;
  stop(): void;
}

/** Starts watching immediately and returns without waiting: until the first list the store stays unsynced (503). */
export function startKubernetesSource(opts: KubernetesSourceOptions): KubernetesSource {
  const { kube, namespace, store, logger } = opts;
  const log = logger.child({ component: 'records', namespace });
  const index = createSecretIndex(store, { logger: log });
  // Records are decoded as each list page or watch event arrives, and the cache keeps no base64 text:
  // holding all 10 000 Secrets' data until a list ended and decoding them then made that list the
  // gateway's memory peak (docs/design.md §7.1). A version the index already holds is not decoded again.
  const decodedByName = new Map<string, { resourceVersion: string | undefined; decoded: Decoded }>();
  const informer = createInformer<V1Secret>({
    kube,
    path: resourcePath(SECRETS, { namespace }),
    labelSelector: RECORD_SELECTOR,
    list: async (page) => {
      const result = await listObjects<V1Secret>(kube, SECRETS, { namespace, labelSelector: RECORD_SELECTOR, ...page });
      // The informer applies the list right after its last page resolves; confirm the index after that.
      if (!result.metadata?.continue) {
        setImmediate(() => {
          index.flush(true);
          // Every listed Secret has been announced by now: what was decoded and not announced is stale.
          decodedByName.clear();
        });
      }
      return result;
    },
    transform: (secret) => {
      const { name = '', resourceVersion } = secret.metadata ?? {};
      if (!index.holds(name, resourceVersion)) {
        decodedByName.set(name, { resourceVersion, decoded: decodeRecordSecret(secret) });
      }
      return recordSecretEssentials(secret);
    },
    log,
    resource: 'record-secrets',
    ...opts.informer,
  });
  informer.onChange((secret, change) => {
    const { name = '', resourceVersion } = secret.metadata ?? {};
    const pending = decodedByName.get(name);
    decodedByName.delete(name);
    const decoded = pending && pending.resourceVersion === resourceVersion ? pending.decoded : undefined;
    // Each announced version was decoded by the transform unless the index holds it (then it skips it).
    index.onChange(secret, change, decoded);
  });
  const synced = informer.start().then(() => {
    index.flush(true);
    log.info({ records: store.size, invalid: index.invalid }, 'key records synced');
  });
  // Callers that never await `synced` must not see an unhandled rejection when stopping early.
  synced.catch(() => {});
  return {
    synced,
    get invalid() {
      return index.invalid;
    },
    stop: () => informer.stop(),
  };
}
