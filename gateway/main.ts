import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.ts';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';
import { loadKubeConnection } from '../kube/kubeconfig.ts';
import { buildApp } from './app.ts';
import type { Limiter } from './limits/limiter.ts';
import { MemoryLimiter } from './limits/memory.ts';
import { ReportedSpendLimiter } from './limits/reported-spend.ts';
import { budgetWindow } from './limits/windows.ts';
import { buildMetricsServer, GatewayMetrics } from './metrics.ts';
import { RecordStore } from './records/store.ts';
import { startDirectorySource } from './sources/directory.ts';
import { startKubernetesSource, type KubernetesSourceOptions } from './sources/kubernetes.ts';
import { errorText } from './sources/log.ts';
import {
  createUsageReporter,
  DEFAULT_REPORT_INTERVAL_MS,
  type Retention,
  type UsageReporter,
} from './usage/reporter.ts';
import { kubeUsageReportStore } from './usage/reporter-kube.ts';
import { SpendLedger } from './usage/spend.ts';
import { UsageTracker } from './usage/tracker.ts';

// The gateway process: a key-record source, the request path (buildApp), the metrics server and the
// usage reporter, started in that order and stopped in reverse with a graceful drain.
// Records come from the Kubernetes API (--records-namespace) or a directory (--records-dir). In
// directory mode there is no API server to report to: usage is only exposed as metrics.

export interface GatewayOptions {
  upstream: URL | string;
  /** Where clients connect. Default 0.0.0.0:8000. */
  listen?: { host: string; port: number };
  recordsNamespace?: string;
  recordsDir?: string;
  /** Path of a kubeconfig (default: KUBECONFIG, in-cluster, ~/.kube/config). */
  kubeconfig?: string;
  /** A ready KubeConfig instead of `kubeconfig` (tests). */
  kubeConfig?: KubeConfig;
  /** /metrics, /healthz, /readyz. Default 9090; the same host as `listen`. */
  metricsPort?: number;
  redis?: string;
  trustedProxies?: string[];
  perKeyLabels?: boolean;
  /** Names this replica's usage report; default POD_NAME or the hostname. Must be unique per live replica. */
  gatewayId?: string;
  logLevel?: string;
  /** A logger to use instead of building one from logLevel (tests). */
  logger?: Logger;
  reportIntervalMs?: number;
  /** Authorization header value sent to the router (the client's key is never forwarded). */
  upstreamAuthorization?: string;
  /** How long stop() waits for in-flight requests (streams) before closing their connections. */
  shutdownGraceMs?: number;
  /** Informer tuning (tests shorten backoff and watchdog). */
  informer?: KubernetesSourceOptions['informer'];
  /** A limiter instead of the in-process or Redis one (tests). */
  limiter?: Limiter;
  /** What a model request reserves when it sets no max_tokens (docs/design.md §4, "Costs"). */
  defaultReservationTokens?: number;
  /** Largest multipart body read for its model field (model-scoped keys). */
  maxMultipartBytes?: number;
  /** Routes model-scoped keys may call although the gateway cannot tell their model. */
  passThroughRoutes?: string[];
  /** Ask the router for usage on streams (default true; off for a router that rejects stream_options). */
  streamUsage?: boolean;
}

export interface RunningGateway {
  url: string;
  metricsUrl: string;
  gatewayId: string;
  records: RecordStore;
  usage: UsageTracker;
  /** Resolves once the first full sync of the key records reached the store. */
  synced: Promise<void>;
  /** Stops accepting, finishes in-flight requests, flushes usage, quits Redis. Idempotent. */
  stop(): Promise<void>;
}

export const DEFAULT_LISTEN = { host: '0.0.0.0', port: 8000 };
export const DEFAULT_METRICS_PORT = 9090;
const DEFAULT_SHUTDOWN_GRACE_MS = 25_000;

export function defaultGatewayId(env: Record<string, string | undefined> = process.env): string {
  return env.POD_NAME || hostname();
}

/** A Redis URL for logs and errors: the password (if any) replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  await app.listen({ host, port });
  const addr = app.server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown === '[::]' ? '[::1]' : shown}:${addr.port}`;
}

/** Closes a fastify app, giving in-flight requests `graceMs` before their connections are cut. */
async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
  // close() only drops connections idle at that moment; a keep-alive connection whose request finishes
  // later would hold shutdown for the whole keep-alive timeout. Drop each one as soon as it goes idle.
  const sweeper = setInterval(() => app.server.closeIdleConnections(), 50);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
    clearInterval(sweeper);
  }
}

/** What usage reports keep: key ids that still have a record, budget spend of their ApiKey's current window. */
function retention(records: RecordStore, nowMs: number): Retention {
  const budgetOf = (id: string) => records.get(id)?.budget;
  return {
    keyId: (id) => records.get(id) !== undefined,
    window: (id) => {
      const b = budgetOf(id);
      return b && budgetWindow(b, nowMs).id;
    },
  };
}

export async function runGateway(opts: GatewayOptions): Promise<RunningGateway> {
  if (!!opts.recordsDir === !!opts.recordsNamespace) {
    throw new Error('choose exactly one record source: --records-namespace NS or --records-dir DIR');
  }
  const logger = opts.logger ?? pino({ level: opts.logLevel ?? 'info', base: { component: 'nemokeys-gateway' } });
  const upstream = typeof opts.upstream === 'string' ? new URL(opts.upstream) : opts.upstream;
  const gatewayId = opts.gatewayId || defaultGatewayId();
  const { host, port } = opts.listen ?? DEFAULT_LISTEN;
  const graceMs = opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  const records = new RecordStore();
  const usage = new UsageTracker();
  // Everything started so far, stopped in reverse on failure or shutdown.
  const cleanups: Array<() => Promise<void> | void> = [];
  const runCleanups = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error({ err: errorText(err) }, 'error during gateway shutdown');
      }
    }
  };

  // Budget spend per key id and period, carried by the usage reports, summed per ApiKey (docs/design.md §4).
  const ledger = new SpendLedger((keyId) => records.get(keyId)?.limitsKey);
  records.onChange(() => ledger.recordsChanged());
  try {
    let limiter = opts.limiter;
    if (!limiter && opts.redis) {
      const { RedisLimiter } = await import('./limits/redis.ts');
      try {
        limiter = await RedisLimiter.connect(opts.redis, {
          baseline: (lk, window) => ledger.own(lk, window) + ledger.peers(lk, window),
        });
      } catch (err) {
        throw new Error(`--redis ${redactUrl(opts.redis)}: cannot connect: ${errorText(err)}`);
      }
      const l = limiter;
      cleanups.push(() => l.close?.());
      logger.info({ redis: redactUrl(opts.redis) }, 'rate limits and budgets shared through Redis');
    }
    const shared = limiter !== undefined && !(limiter instanceof MemoryLimiter);
    limiter ??= new MemoryLimiter();

    const metrics = new GatewayMetrics({ perKeyLabels: opts.perKeyLabels ?? true });
    let synced: Promise<void>;
    let reporter: UsageReporter | undefined;
    if (opts.recordsDir) {
      const source = await startDirectorySource({
        dir: opts.recordsDir,
        store: records,
        logger: logger.child({ component: 'records' }),
      });
      cleanups.push(() => source.stop());
      synced = Promise.resolve();
      logger.info({ dir: opts.recordsDir }, 'directory mode: usage is exposed in metrics only (no usage reports)');
    } else {
      const namespace = opts.recordsNamespace as string; // exactly one source, checked above
      const kube = opts.kubeConfig
        ? kubeClientFor(opts.kubeConfig)
        : new KubeClient(loadKubeConnection({ kubeconfig: opts.kubeconfig }), { userAgent: 'nemokeys-gateway' });
      const source = startKubernetesSource({ kube, namespace, store: records, logger, informer: opts.informer });
      cleanups.push(() => source.stop());
      synced = source.synced;
      const log = logger.child({ component: 'usage-reporter', gatewayId });
      reporter = createUsageReporter({
        tracker: usage,
        ledger,
        retain: () => (records.synced ? retention(records, Date.now()) : undefined),
        store: kubeUsageReportStore({ kube, namespace, gatewayId, logger: log }),
        gatewayId,
        intervalMs: opts.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS,
        logger: log,
        events: metrics.usageReport,
      });
      // Seeding reads the API server; serving must not wait for it (writes and budgets do, see reporter.ts).
      const started = reporter.start();
      const rep = reporter;
      cleanups.push(async () => {
        await started;
        await rep.stop();
      });
    }

    // Directory mode has no reports: budgets are this process's own (nothing to wait for).
    const r = reporter;
    limiter = new ReportedSpendLimiter(limiter, ledger, { shared, seeded: () => r === undefined || r.seeded });
    const app = buildApp({
      records,
      usage,
      upstream,
      limiter,
      metrics,
      trustedProxies: opts.trustedProxies ?? [],
      logger,
      upstreamAuthorization: opts.upstreamAuthorization,
      ...(opts.defaultReservationTokens !== undefined
        ? { defaultReservationTokens: opts.defaultReservationTokens }
        : {}),
      ...(opts.maxMultipartBytes !== undefined ? { maxMultipartBytes: opts.maxMultipartBytes } : {}),
      ...(opts.passThroughRoutes !== undefined ? { passThroughRoutes: opts.passThroughRoutes } : {}),
      ...(opts.streamUsage !== undefined ? { streamUsage: opts.streamUsage } : {}),
    });
    // Cleanups run in reverse: the app drains before the reporter's final flush, so that flush
    // carries every request that was answered.
    cleanups.push(() => closeGracefully(app, graceMs));
    const url = await listen(app, host, port);
    const metricsApp = buildMetricsServer(metrics, records);
    cleanups.push(() => metricsApp.close());
    const metricsUrl = await listen(metricsApp, host, opts.metricsPort ?? DEFAULT_METRICS_PORT);
    logger.info({ url, metricsUrl, upstream: upstream.origin, gatewayId, reporting: !!reporter }, 'gateway listening');

    let stopping: Promise<void> | undefined;
    return {
      url,
      metricsUrl,
      gatewayId,
      records,
      usage,
      synced,
      stop: () => (stopping ??= runCleanups().then(() => logger.info({ gatewayId }, 'gateway stopped'))),
    };
  } catch (err) {
    await runCleanups();
    throw err;
  }
}
