import type { Command } from 'commander';
import { parseDurationMs } from '../api/duration.ts';
import { compileCidrs } from '../gateway/client-ip.ts';
import type { GatewayOptions } from '../gateway/main.ts';

// `nemokeys gateway` (the sidecar in front of the router) and `nemokeys demo-upstream` (a stand-in
// router for demos). Flag checking is pure and runs before anything heavy is loaded, so a typo gets
// a message saying what to fix, and `--help` needs no cluster.

export interface GatewayFlags {
  upstream?: string;
  listen?: string;
  recordsNamespace?: string;
  recordsDir?: string;
  metricsPort?: string;
  redis?: string;
  trustedProxies?: string;
  perKeyLabels?: boolean;
  gatewayId?: string;
  kubeconfig?: string;
  logLevel?: string;
  reportInterval?: string;
  defaultReservation?: string;
  maxMultipartBytes?: string;
  passThroughRoutes?: string;
  /** commander's `--no-stream-usage`. */
  streamUsage?: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** The router's own credential, if it wants one; from the environment so it never shows in `ps`. */
export const UPSTREAM_KEY_ENV = 'NEMOKEYS_UPSTREAM_API_KEY';
/** Default for --redis: a Redis URL may hold a password, which does not belong in the process arguments. */
export const REDIS_URL_ENV = 'NEMOKEYS_REDIS_URL';

/** `HOST:PORT`, `:PORT`, `PORT` or `[IPv6]:PORT`. */
export function parseListen(text: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535)
    throw new Error(`${flag} ${text}: expected HOST:PORT, :PORT or PORT (e.g. 0.0.0.0:8000, [::]:8000)`);
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : '0.0.0.0';
  return { host, port };
}

function parsePositive(text: string, flag: string, example: string): number {
  if (!/^\d{1,12}$/.test(text) || Number(text) < 1)
    throw new Error(`${flag} ${text}: expected a whole number above 0, e.g. ${example}`);
  return Number(text);
}

function parsePort(text: string, flag: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
    throw new Error(`${flag} ${text}: expected a port number 0-65535`);
  return Number(text);
}

/** Turns flags (+ environment) into runGateway options, or throws one error naming the flag to fix. */
export function gatewayOptionsFromFlags(
  flags: GatewayFlags,
  env: Record<string, string | undefined> = process.env,
): GatewayOptions {
  if (!flags.upstream)
    throw new Error('--upstream URL is required: where the router listens, e.g. --upstream http://127.0.0.1:4000');
  let upstream: URL;
  try {
    upstream = new URL(flags.upstream);
  } catch {
    throw new Error(`--upstream ${flags.upstream}: not a URL; expected e.g. http://127.0.0.1:4000`);
  }
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') {
    throw new Error(`--upstream ${flags.upstream}: must be an http:// or https:// URL`);
  }
  if (flags.recordsNamespace && flags.recordsDir) {
    throw new Error(
      '--records-namespace and --records-dir are exclusive: records come from Kubernetes or from a directory, not both',
    );
  }
  if (!flags.recordsNamespace && !flags.recordsDir) {
    throw new Error(
      'where do key records come from? Pass --records-namespace NS (Kubernetes) or --records-dir DIR (JSON files)',
    );
  }
  if (flags.recordsNamespace && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(flags.recordsNamespace)) {
    throw new Error(
      `--records-namespace ${flags.recordsNamespace}: not a valid namespace name (lowercase letters, digits and '-')`,
    );
  }
  if (flags.recordsDir && flags.kubeconfig) throw new Error('--kubeconfig is only used with --records-namespace');
  const listen = parseListen(flags.listen ?? '0.0.0.0:8000');
  const metricsPort = parsePort(flags.metricsPort ?? '9090', '--metrics-port');
  if (metricsPort !== 0 && metricsPort === listen.port) {
    throw new Error(`--metrics-port ${metricsPort} is the --listen port too; give metrics their own port`);
  }
  const trustedProxies = (flags.trustedProxies ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    compileCidrs(trustedProxies, { strict: true });
  } catch (err) {
    throw new Error(
      `--trusted-proxies: ${(err as Error).message}; expected comma-separated CIDRs like 10.0.0.0/8,fd00::/8`,
    );
  }
  const redis = flags.redis ?? (env[REDIS_URL_ENV] || undefined);
  if (redis !== undefined && !/^rediss?:\/\/.+/.test(redis)) {
    throw new Error(
      `${flags.redis !== undefined ? '--redis' : `$${REDIS_URL_ENV}`}: expected a redis:// or rediss:// URL, e.g. redis://redis:6379/0`,
    );
  }
  const logLevel = flags.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new Error(`--log-level ${logLevel}: expected one of ${LOG_LEVELS.join(', ')}`);
  const reportIntervalMs = parseDurationMs(flags.reportInterval ?? '10s');
  if (reportIntervalMs === undefined)
    throw new Error(`--report-interval ${flags.reportInterval}: expected a duration like 10s or 1m`);
  if (flags.gatewayId !== undefined && !flags.gatewayId.trim()) throw new Error('--gateway-id must not be empty');
  const upstreamKey = env[UPSTREAM_KEY_ENV];
  const passThroughRoutes = (flags.passThroughRoutes ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const route of passThroughRoutes) {
    if (!/^\/[A-Za-z0-9._~\-/]*$/.test(route) || route.includes('//')) {
      throw new Error(
        `--pass-through-routes: ${JSON.stringify(route)} is not a path; expected comma-separated paths like /v1/messages`,
      );
    }
  }
  return {
    upstream,
    listen,
    ...(flags.recordsNamespace ? { recordsNamespace: flags.recordsNamespace } : { recordsDir: flags.recordsDir }),
    kubeconfig: flags.kubeconfig,
    metricsPort,
    redis,
    trustedProxies,
    perKeyLabels: flags.perKeyLabels ?? true,
    gatewayId: flags.gatewayId?.trim(),
    logLevel,
    reportIntervalMs,
    upstreamAuthorization: upstreamKey ? `Bearer ${upstreamKey}` : undefined,
    defaultReservationTokens: parsePositive(flags.defaultReservation ?? '256', '--default-reservation', '256'),
    maxMultipartBytes: parsePositive(
      flags.maxMultipartBytes ?? String(32 * 1024 * 1024),
      '--max-multipart-bytes',
      '33554432',
    ),
    passThroughRoutes,
    streamUsage: flags.streamUsage ?? true,
  };
}

/** Runs until SIGTERM/SIGINT, then drains and flushes before exiting. */
function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`nemokeys: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`nemokeys: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description(
      "run the gateway: checks every request's API key against the key records, then proxies it to the router",
    )
    .option('--upstream <url>', 'the OpenAI-compatible router to forward allowed requests to (required)')
    .option('--listen <host:port>', 'where clients connect', '0.0.0.0:8000')
    .option('--records-namespace <ns>', 'watch the key record Secrets the operator writes into this namespace')
    .option(
      '--records-dir <dir>',
      'read key records from *.json files in this directory instead (hot reload; usage only in metrics)',
    )
    .option('--metrics-port <n>', 'port of /metrics, /healthz and /readyz', '9090')
    .option(
      '--redis <url>',
      `share rate-limit and budget counters between replicas through Redis (default: $${REDIS_URL_ENV})`,
    )
    .option('--trusted-proxies <cidrs>', 'comma-separated CIDRs of proxies whose X-Forwarded-For is believed')
    .option('--no-per-key-labels', 'drop apikey/key_id labels from metrics (for very many keys)')
    .option('--gateway-id <id>', "this replica's name in usage reports (default: $POD_NAME or the hostname)")
    .option('--report-interval <duration>', 'how often usage is reported when it changed', '10s')
    .option('--kubeconfig <path>', 'kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--log-level <level>', LOG_LEVELS.join(' | '), 'info')
    .option(
      '--default-reservation <tokens>',
      'tokens a model request reserves against budgets and token limits when it sets no max_tokens',
      '256',
    )
    .option(
      '--max-multipart-bytes <n>',
      'largest multipart body (audio, image edits) read for its model field, for model-scoped keys',
      '33554432',
    )
    .option(
      '--pass-through-routes <paths>',
      'comma-separated routes model-scoped keys may call although the gateway cannot tell their model',
    )
    .option(
      '--no-stream-usage',
      'do not add stream_options.include_usage to streamed requests (streams are then charged their reservation)',
    )
    .addHelpText(
      'after',
      `\nEnvironment: $${UPSTREAM_KEY_ENV} is sent to the router as its bearer credential, if it needs one;\n` +
        `$${REDIS_URL_ENV} is the default for --redis (keeps a Redis password out of the process arguments).`,
    )
    .action(async (flags: GatewayFlags) => {
      const options = gatewayOptionsFromFlags(flags);
      const { runGateway } = await import('../gateway/main.ts');
      const gw = await runGateway(options);
      stopOnSignals(gw.stop);
    });

  program
    .command('demo-upstream')
    .description('run a small OpenAI-compatible upstream (chat incl. streaming, embeddings, images, models) for demos')
    .option('--listen <host:port>', 'where it listens', '127.0.0.1:4000')
    .action(async (flags: { listen: string }) => {
      const { host, port } = parseListen(flags.listen);
      const { startDemoUpstream } = await import('../gateway/demo-upstream.ts');
      const upstream = await startDemoUpstream({ host, port });
      process.stdout.write(`demo upstream listening on ${upstream.url} (try ${upstream.url}/v1/models)\n`);
      stopOnSignals(upstream.close);
    });
}
