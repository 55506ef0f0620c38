// Implements OperatorContext for one leadership term: tracks the informers and controllers that
// registerControllers creates, starts the informers, opens the workers once every cache has
// synced, and tears everything down in order (controllers drain, then informers stop).
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from '../../kube/client.ts';
import type { Logger } from 'pino';
import { createInformer, type InformerOptions } from '../../kube/informer.ts';
import { customObjectInformer, secretInformer } from '../../kube/informers.ts';
import type { CustomObjectInformerSpec, OperatorContext, RegisterControllers } from './context.ts';
import { runController, type ControllerHandle } from './controller.ts';
import { DEFAULT_APIKEY_WORKERS } from './concurrency.ts';
import type { Readiness } from './health.ts';
import type { Audit } from './log.ts';
import type { OperatorMetrics } from './metrics.ts';
import type { CachedInformer, Clock } from './types.ts';

export type InformerTuning = Pick<InformerOptions<never>, 'relistIntervalMs' | 'watchdogMs' | 'backoff'>;

export interface ManagerDeps {
  kube: KubeClient;
  clock: Clock;
  log: Logger;
  audit: Audit;
  metrics: OperatorMetrics;
  readiness: Readiness;
  recordsNamespace: string;
  watchNamespace?: string;
  informerTuning?: InformerTuning;
  apiKeyWorkers?: number;
}

export interface Manager {
  readonly ctx: OperatorContext;
  /** registerControllers(ctx), then start all informers and wait for their first lists. */
  run(register: RegisterControllers): Promise<void>;
  stop(): Promise<void>;
}

export function createManager(deps: ManagerDeps): Manager {
  const abort = new AbortController();
  const informers: Array<{ name: string; informer: CachedInformer<KubernetesObject> }> = [];
  const controllers: ControllerHandle[] = [];
  let openGate!: () => void;
  let failGate!: (err: Error) => void;
  const cachesSynced = new Promise<void>((resolve, reject) => {
    openGate = resolve;
    failGate = reject;
  });
  cachesSynced.catch(() => {}); // rejection only means "stopped before sync"; workers handle it

  const provided = {
    kube: deps.kube,
    log: deps.log.child({ component: 'informer' }),
    onRestart: (resource: string) => deps.metrics.informerRestarts.inc({ resource }),
    ...deps.informerTuning,
  };
  const track = <T extends KubernetesObject>(informer: CachedInformer<T>, name: string): CachedInformer<T> => {
    const unique = informers.some((i) => i.name === name) ? `${name}#${informers.length}` : name;
    informers.push({ name: unique, informer: informer as unknown as CachedInformer<KubernetesObject> });
    deps.readiness.add(`informer/${unique}`, () => informer.synced);
    return informer;
  };

  const ctx: OperatorContext = {
    kube: deps.kube,
    clock: deps.clock,
    log: deps.log,
    audit: deps.audit,
    metrics: deps.metrics,
    recordsNamespace: deps.recordsNamespace,
    ...(deps.watchNamespace ? { watchNamespace: deps.watchNamespace } : {}),
    signal: abort.signal,
    apiKeyWorkers: deps.apiKeyWorkers ?? DEFAULT_APIKEY_WORKERS,
    createInformer: (spec) => track(createInformer({ ...provided, ...spec }), spec.resource ?? spec.path),
    secretInformer: (spec) =>
      track(
        secretInformer({ ...provided, ...spec }),
        spec.resource ?? `secrets${spec.namespace ? `@${spec.namespace}` : ''}`,
      ),
    customObjectInformer: <T extends KubernetesObject>(spec: CustomObjectInformerSpec<T>) =>
      track(customObjectInformer<T>({ ...provided, ...spec }), spec.resource ?? spec.plural),
    runController: (reconciler, opts = {}) => {
      const handle = runController(
        reconciler,
        { log: deps.log, metrics: deps.metrics },
        { ...opts, startAfter: cachesSynced },
      );
      controllers.push(handle);
      return { enqueue: handle.enqueue, enqueueAfter: handle.enqueueAfter };
    },
  };

  return {
    ctx,
    async run(register) {
      await register(ctx);
      if (abort.signal.aborted) return;
      const started = Date.now();
      await Promise.all(informers.map((i) => i.informer.start()));
      deps.log.info(
        {
          informers: informers.map((i) => i.name),
          controllers: controllers.map((c) => c.name),
          syncMs: Date.now() - started,
        },
        'caches synced; starting workers',
      );
      openGate();
    },
    async stop() {
      abort.abort();
      failGate(new Error('stopped'));
      await Promise.all(controllers.map((c) => c.stop()));
      for (const { name, informer } of informers) {
        informer.stop();
        deps.readiness.remove(`informer/${name}`);
      }
    },
  };
}
