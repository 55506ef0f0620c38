import { randomUUID } from 'node:crypto';
import type { UsageReport } from '../../api/usage.ts';
import { errorText, silentLogger, type SourceLogger } from '../sources/log.ts';
import { SpendLedger } from './spend.ts';
import type { UsageTracker } from './tracker.ts';

// Reports this replica's cumulative usage (one object per replica, see reporter-kube.ts) so the
// operator can sum replicas into ApiKey status. Rules that keep the sum exact and the write rate bounded:
// - seed first: the tracker starts from what this identity reported before, and nothing is written
//   until that read succeeded (writing earlier would overwrite the old counts with smaller ones);
// - at most one write per interval whatever the request rate, and none when nothing changed, except a
//   heartbeat that keeps an existing report fresh (heartbeatMs: only gone replicas' reports get folded);
// - a failed write is retried on the next tick (the counts are cumulative, so the next write carries it);
// - stop() writes once more, so a graceful shutdown loses nothing.
// Budgets (docs/design.md §4): the report also carries this identity's spend per budget window
// (SpendLedger). Every interval the reporter reads all replicas' reports (one LIST) and hands the
// others' spend to the ledger, so each replica enforces against the sum. Reading also tells when a
// second live process writes under this gateway id (its instance id shows up in our object).

/** Where the replicas' reports live. Implementations: Kubernetes ConfigMaps, in-memory for tests. */
export interface UsageReportStore {
  /** This gateway's previous report (if any) and the other replicas' reports. Throws when it cannot tell. */
  list(): Promise<{ own: UsageReport | undefined; peers: UsageReport[] }>;
  write(report: UsageReport): Promise<void>;
}

/** What reports keep: key ids with a record, and budget spend of the window current for its ApiKey. */
export interface Retention {
  keyId(keyId: string): boolean;
  /** The current budget window of the key id's ApiKey, or undefined when it has no budget (or is gone). */
  window(keyId: string): string | undefined;
}

/** What the reporter tells metrics (gateway/metrics.ts `nemokeys_gateway_usage_report_*`). */
export interface UsageReportEvents {
  written(at: Date): void;
  writeFailed(): void;
  duplicateId(): void;
}

export interface UsageReporterOptions {
  tracker: UsageTracker;
  store: UsageReportStore;
  gatewayId: string;
  /** Budget spend for the report; defaults to a ledger of its own (no budgets enforced from it). */
  ledger?: SpendLedger;
  /** What to keep in the report; undefined while the key records are not synced yet (keep everything). */
  retain?: () => Retention | undefined;
  intervalMs?: number;
  now?: () => Date;
  logger?: SourceLogger;
  events?: UsageReportEvents;
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
  /** True once another live process was seen writing under this gateway id. */
  readonly duplicateId: boolean;
}

export const DEFAULT_REPORT_INTERVAL_MS = 10_000;
/**
 * A report never approaches the API server's 1 MiB object limit: at most this many key ids, see
 * test/usage-report-size.test.ts for the sizes. Beyond it the least recently used key ids leave the
 * report with their spend (ApiKey status never goes back; their later use counts from zero here). Said once.
 */
export const MAX_REPORTED_KEYS = 15_000;
/**
 * An idle replica still rewrites its report this often (every 6 intervals, at most 5 min apart): the
 * operator folds reports not rewritten for an hour into its archive (operator/usage/fold.ts), which
 * must only ever catch replicas that are gone — a live one continues cumulative counts the archive holds.
 */
export function heartbeatMs(intervalMs: number): number {
  return Math.min(6 * intervalMs, 5 * 60_000);
}

export function createUsageReporter(opts: UsageReporterOptions): UsageReporter {
  const {
    tracker,
    store,
    gatewayId,
    intervalMs = DEFAULT_REPORT_INTERVAL_MS,
    now = () => new Date(),
    logger = silentLogger,
  } = opts;
  const ledger = opts.ledger ?? new SpendLedger(() => undefined);
  const instance = randomUUID();
  let seeded = false;
  let retryWrite = false;
  let writes = 0;
  let lastWriteMs = 0;
  /** This identity has a report out there (seeded from it, or written one): keep it fresh. */
  let hasReport = false;
  let duplicateId = false;
  let saidTooMany = false;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const trySeed = async (): Promise<boolean> => {
    try {
      const { own, peers } = await store.list();
      if (own) {
        hasReport = true;
        tracker.seed(own.keys);
        ledger.seed(own.keys);
      }
      ledger.setPeers(peers);
      seeded = true;
      logger.info(
        { gatewayId, keys: own ? Object.keys(own.keys).length : 0, peers: peers.length },
        'usage counters seeded from the previous report',
      );
      return true;
    } catch (err) {
      logger.warn(
        { gatewayId, err: errorText(err) },
        'cannot read the usage reports yet; usage is not reported and budgets not enforced until they can be read',
      );
      return false;
    }
  };

  /** The peers' spend, fresh every interval; a failed read keeps the previous one. */
  const refreshPeers = async (): Promise<void> => {
    try {
      const { own, peers } = await store.list();
      ledger.setPeers(peers);
      if (writes > 0 && own?.instance !== undefined && own.instance !== instance && !duplicateId) {
        duplicateId = true;
        opts.events?.duplicateId();
        logger.error(
          { gatewayId },
          `another live gateway writes its usage report under the same gateway id ${gatewayId}: ` +
            "the two overwrite each other's counts and budgets; give every replica its own --gateway-id (default: $POD_NAME)",
        );
      }
    } catch (err) {
      logger.warn(
        { gatewayId, err: errorText(err) },
        "cannot read the other replicas' usage reports; using the last ones read",
      );
    }
  };

  const writeOnce = async (): Promise<void> => {
    if (!seeded && !(await trySeed())) return;
    if (!stopped) await refreshPeers();
    const retention = opts.retain?.();
    if (retention) tracker.prune((id) => retention.keyId(id));
    const dropped = tracker.keepMostRecent(MAX_REPORTED_KEYS);
    // spend lives beside its key id's counts: it leaves with them, and when its window is over
    ledger.prune((id, window) => tracker.has(id) && (retention === undefined || retention.window(id) === window));
    if (dropped > 0 && !saidTooMany) {
      saidTooMany = true;
      logger.error(
        { gatewayId, dropped, max: MAX_REPORTED_KEYS },
        'more used keys than one usage report holds: the least recently used ' +
          'leave the report (their status counts stay; their budget spend here is no longer reported)',
      );
    }
    const heartbeatDue = hasReport && now().getTime() - lastWriteMs >= heartbeatMs(intervalMs);
    if (!tracker.dirty && !ledger.dirty && !retryWrite && !heartbeatDue) return;
    const keys = tracker.snapshot();
    for (const [keyId, spend] of ledger.snapshot()) {
      const k = keys[keyId];
      if (k) k.spend = spend; // every key id with spend is tracked (pruned together above)
    }
    const report: UsageReport = { gateway: gatewayId, instance, updatedAt: now().toISOString(), keys };
    try {
      await store.write(report);
      retryWrite = false;
      writes++;
      hasReport = true;
      lastWriteMs = Date.parse(report.updatedAt);
      opts.events?.written(new Date(lastWriteMs));
    } catch (err) {
      // snapshot() cleared the dirty flags; remember that this report still has to go out.
      retryWrite = true;
      opts.events?.writeFailed();
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
    get duplicateId() {
      return duplicateId;
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
      if ((!seeded && (tracker.dirty || ledger.dirty)) || retryWrite) {
        logger.error({ gatewayId }, 'stopping with usage that could not be reported; it is missing from ApiKey status');
      }
    },
  };
}
