// Runs one Reconciler on its own work queue with N workers (controller-runtime's Controller):
// handlers enqueue keys; a worker reconciles a key, then either forgets its failures, schedules the
// requested recheck, or retries it with per-key backoff. Errors are logged as one line from
// apiErrorMessage (never objects, never request bodies): plaintext keys cannot leak through here.
import type { Logger } from 'pino';
import type { BackoffPolicy } from '../../kube/backoff.ts';
import { apiErrorMessage } from '../../kube/errors.ts';
import type { OperatorMetrics } from './metrics.ts';
import type { Reconciler } from './types.ts';
import { WorkQueue } from './workqueue.ts';

export interface ControllerOptions {
  workers?: number;
  backoff?: BackoffPolicy;
  /** Workers wait for this (caches synced) before the first reconcile; keys queue up meanwhile. */
  startAfter?: Promise<unknown>;
}

export interface ControllerHandle {
  readonly name: string;
  enqueue(key: string): void;
  enqueueAfter(key: string, ms: number): void;
  readonly queue: WorkQueue;
  /** Stops taking keys and waits for in-flight reconciles to finish. */
  stop(): Promise<void>;
}

export interface ControllerDeps {
  log: Logger;
  metrics: Pick<OperatorMetrics, 'reconcileTotal' | 'reconcileErrors' | 'reconcileDuration' | 'trackQueue'>;
}

export function runController(
  reconciler: Reconciler,
  deps: ControllerDeps,
  opts: ControllerOptions = {},
): ControllerHandle {
  const controller = reconciler.name;
  const queue = new WorkQueue({ backoff: opts.backoff });
  const log = deps.log.child({ controller });
  const { metrics } = deps;
  metrics.trackQueue(controller, () => queue.depth);

  const reconcileOne = async (key: string): Promise<void> => {
    const endTimer = metrics.reconcileDuration.startTimer({ controller });
    try {
      const result = await reconciler.reconcile(key);
      queue.forget(key);
      const after = result?.requeueAfterMs;
      if (after !== undefined && Number.isFinite(after) && after >= 0) {
        queue.addAfter(key, after);
        metrics.reconcileTotal.inc({ controller, result: 'requeue' });
      } else {
        metrics.reconcileTotal.inc({ controller, result: 'success' });
      }
    } catch (err) {
      const retryInMs = queue.addRateLimited(key);
      metrics.reconcileTotal.inc({ controller, result: 'error' });
      metrics.reconcileErrors.inc({ controller });
      log.error(
        { key, error: apiErrorMessage(err), retries: queue.numRequeues(key), retryInMs },
        'reconcile failed; retrying',
      );
    } finally {
      endTimer();
    }
  };

  const worker = async (): Promise<void> => {
    if (opts.startAfter) {
      try {
        await opts.startAfter;
      } catch {
        return; // stopped before the caches synced
      }
    }
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await reconcileOne(key);
      } finally {
        queue.done(key);
      }
    }
  };

  const workers = Array.from({ length: Math.max(1, opts.workers ?? 1) }, () => worker());
  log.info({ workers: workers.length }, 'controller started');

  return {
    name: controller,
    queue,
    enqueue: (key) => queue.add(key),
    enqueueAfter: (key, ms) => queue.addAfter(key, ms),
    async stop() {
      await queue.shutdown();
      await Promise.all(workers);
      log.info('controller stopped');
    },
  };
}
