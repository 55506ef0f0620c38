import type { UsageReport } from '../../api/usage.ts';
import { errorText, silentLogger, type SourceLogger } from '../sources/log.ts';
import type { UsageTracker } from './tracker.ts';

// Reports this replica's cumulative usage (one object per replica, see reporter-kube.ts) so the
// operator can sum replicas into ApiKey status. Rules that keep the sum exact and the write rate bounded:
// - seed first: the tracker starts from what this identity reported before, and nothing is written
//   until that read succeeded (writing earlier would overwrite the old counts with smaller ones);
// - at most one write per interval whatever the request rate, and none when nothing changed;
// - a failed write is retried on the next tick (the counts are cumulative, so the next write carries it);
// - stop() writes once more, so a graceful shutdown loses nothing.

/** Where a replica's report lives. Implementations: Kubernetes ConfigMap, in-memory for tests. */
export interface UsageReportStore {
  /** The report this gateway wrote before, or undefined when there is none. Throws when it cannot tell. */
  read(): Promise<UsageReport | undefined>;
  write(report: UsageReport): Promise<void>;
}

export interface UsageReporterOptions {
  tracker: UsageTracker;
  store: UsageReportStore;
  gatewayId: string;
  intervalMs?: number;
  now?: () => Date;
  logger?: SourceLogger;
}

export interface UsageReporter {
  /** Seeds the tracker from the previous report (retrying in the background while that fails) and starts the interval. */
  start(): Promise<void>;
  /** Writes now when there is something to write; resolves when done (never rejects). */
  flush(): Promise<void>;
  /** Stops the interval and flushes one last time. */
  stop(): Promise<void>;
  /** True once the previous report has been read and added to the tracker. */
  readonly seeded: boolean;
  /** Successful writes so far (for metrics and tests). */
  readonly writes: number;
}

export const DEFAULT_REPORT_INTERVAL_MS = 10_000;

export function createUsageReporter(opts: UsageReporterOptions): UsageReporter {
  const { tracker, store, gatewayId, intervalMs = DEFAULT_REPORT_INTERVAL_MS, now = () => new Date(), logger = silentLogger } = opts;
  let seeded = false;
  let retryWrite = false;
  let writes = 0;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const trySeed = async (): Promise<boolean> => {
    try {
      const previous = await store.read();
      if (previous) tracker.seed(previous.keys);
      seeded = true;
      logger.info({ gatewayId, keys: previous ? Object.keys(previous.keys).length : 0 }, 'usage counters seeded from the previous report');
      return true;
    } catch (err) {
      logger.warn({ gatewayId, err: errorText(err) }, 'cannot read the previous usage report yet; usage is not reported until it can be read');
      return false;
    }
  };

  const writeOnce = async (): Promise<void> => {
    if (!seeded && !(await trySeed())) return;
    if (!tracker.dirty && !retryWrite) return;
    const report: UsageReport = { gateway: gatewayId, updatedAt: now().toISOString(), keys: tracker.snapshot() };
    try {
      await store.write(report);
      retryWrite = false;
      writes++;
    } catch (err) {
      // snapshot() cleared the dirty flag; remember that this report still has to go out.
      retryWrite = true;
      logger.warn({ gatewayId, err: errorText(err) }, 'usage report write failed; retrying on the next interval');
    }
  };

  // One write at a time: a slow API server must not stack writes up.
  const flush = (): Promise<void> => {
    inFlight ??= writeOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  return {
    get seeded() {
      return seeded;
    },
    get writes() {
      return writes;
    },
    async start() {
      await trySeed();
      if (stopped) return;
      timer = setInterval(() => void flush(), intervalMs);
      timer.unref();
    },
    flush,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await flush();
      if ((!seeded && tracker.dirty) || retryWrite) {
        logger.error({ gatewayId }, 'stopping with usage that could not be reported; it is missing from ApiKey status');
      }
    },
  };
}
