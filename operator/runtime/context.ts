// What the runtime hands to the controllers (operator/controllers.ts → registerControllers(ctx)).
// Controllers build informers and controllers only through this, so the runtime can start every
// informer, hold the workers until every cache has synced (a reconcile on a half-filled cache would
// "repair" objects that exist), count restarts, and stop it all on shutdown or lost leadership.
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { KubeClient } from '../../kube/client.ts';
import type { Logger } from 'pino';
import type { BackoffPolicy } from '../../kube/backoff.ts';
import type { InformerOptions } from '../../kube/informer.ts';
import type { customObjectInformer, secretInformer } from '../../kube/informers.ts';
import type { Audit } from './log.ts';
import type { OperatorMetrics } from './metrics.ts';
import type { CachedInformer, Clock, Reconciler } from './types.ts';

/** Runtime-provided fields; controllers pass the rest. */
type Provided = 'kube' | 'log' | 'onRestart' | 'watcher';
export type InformerSpec<T extends KubernetesObject> = Omit<InformerOptions<T>, Provided>;
export type SecretInformerSpec = Omit<Parameters<typeof secretInformer>[0], Provided>;
export type CustomObjectInformerSpec<T extends KubernetesObject = KubernetesObject> = Omit<
  Parameters<typeof customObjectInformer<T>>[0],
  Provided
>;

export interface ControllerRunOptions {
  workers?: number;
  backoff?: BackoffPolicy;
}

/** Handlers call these; reconciles start only after every informer of the context has synced. */
export interface QueueHandle {
  enqueue(key: string): void;
  enqueueAfter(key: string, ms: number): void;
}

export interface OperatorContext {
  kube: KubeClient;
  clock: Clock;
  log: Logger;
  audit: Audit;
  metrics: OperatorMetrics;
  /** Where the hashed key records (and usage reports) live: the gateway's namespace. */
  recordsNamespace: string;
  /** Reconcile Teams/ApiKeys (and their Secrets) in this namespace only; undefined = all namespaces. */
  watchNamespace?: string;
  /** Any list+watch; started by the runtime after registerControllers returns. */
  createInformer<T extends KubernetesObject>(spec: InformerSpec<T>): CachedInformer<T>;
  /** Secrets with a (required) label selector; omit namespace for all namespaces. */
  secretInformer(spec: SecretInformerSpec): CachedInformer<V1Secret>;
  /** Our custom resources (ApiKey, Team), all namespaces unless `namespace` is set. */
  customObjectInformer<T extends KubernetesObject>(spec: CustomObjectInformerSpec<T>): CachedInformer<T>;
  runController(reconciler: Reconciler, opts?: ControllerRunOptions): QueueHandle;
  /** Workers of the ApiKey controller (--workers). */
  apiKeyWorkers: number;
  /** Aborted when the operator stops or loses leadership: stop timers, end loops. */
  signal: AbortSignal;
}

export type RegisterControllers = (ctx: OperatorContext) => Promise<void>;
