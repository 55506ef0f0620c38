// The operator's Prometheus metrics, on a private Registry (never prom-client's global one, so tests
// and an embedded gateway never collide). Controllers register their own metrics on `registry`;
// the names below are a contract with dashboards and alert rules.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ReconcileResultLabel = 'success' | 'error' | 'requeue';

export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileDuration: Histogram<'controller'>;
  readonly workqueueDepth: Gauge<'controller'>;
  readonly leader: Gauge;
  readonly informerRestarts: Counter<'resource'>;
  /** Reports `depth()` as nemokeys_operator_workqueue_depth{controller} at every scrape. */
  trackQueue(controller: string, depth: () => number): void;
}

export function createOperatorMetrics(opts: { processMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const queues = new Map<string, () => number>();
  const registers = [registry];
  const workqueueDepth = new Gauge({
    name: 'nemokeys_operator_workqueue_depth',
    help: 'Keys waiting in a controller work queue',
    labelNames: ['controller'],
    registers,
    collect() {
      for (const [controller, depth] of queues) this.set({ controller }, depth());
    },
  });
  return {
    registry,
    reconcileTotal: new Counter({
      name: 'nemokeys_operator_reconcile_total',
      help: 'Reconciles by controller and result (success, error, requeue)',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'nemokeys_operator_reconcile_errors_total',
      help: 'Reconciles that failed and were retried with backoff',
      labelNames: ['controller'],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'nemokeys_operator_reconcile_duration_seconds',
      help: 'Time spent in one reconcile',
      labelNames: ['controller'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    workqueueDepth,
    leader: new Gauge({
      name: 'nemokeys_operator_leader',
      help: '1 while this replica holds the leader lease and runs the controllers, else 0',
      registers,
    }),
    informerRestarts: new Counter({
      name: 'nemokeys_operator_informer_restarts_total',
      help: 'Informer list/watch restarts after errors or a silent watch',
      labelNames: ['resource'],
      registers,
    }),
    trackQueue(controller, depth) {
      queues.set(controller, depth);
    },
  };
}
