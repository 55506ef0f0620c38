import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_RECORDS_NAMESPACE } from '../api/constants.ts';
import { parseDurationMs } from '../api/duration.ts';
import { checkMailFrom, parseSmtpUrl } from '../operator/reminders/smtp-url.ts';
import { DEFAULT_APIKEY_WORKERS, MAX_WORKERS } from '../operator/runtime/concurrency.ts';

// `nemokeys operator`: runs the controllers (ApiKey, Team) with leader election. Flags mirror
// controller-runtime's (--metrics-bind-address / --health-probe-bind-address / --leader-elect).
// The runtime is imported only when the command runs, so --help needs no cluster.

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export interface OperatorFlags {
  kubeconfig?: string;
  recordsNamespace: string;
  namespace?: string;
  metricsPort: string;
  healthPort: string;
  bindAddress: string;
  logLevel: string;
  leaderElect: boolean;
  leaseNamespace?: string;
  leaseName?: string;
  auditWebhookPort?: string;
  auditTlsCertFile?: string;
  auditTlsKeyFile?: string;
  auditClientCaFile?: string;
  smtpUrl?: string;
  mailFrom?: string;
  workers?: string;
  usageFoldAfter?: string;
}

/**
 * Below this a live but idle gateway (it rewrites its report every 5 min at most, heartbeatMs in
 * gateway/usage/reporter.ts) could be taken for gone and folded (docs/design.md §4).
 */
const MIN_FOLD_AFTER_MS = 15 * 60_000;

function foldAfterMs(value: string | undefined): { usageFoldAfterMs?: number } {
  if (value === undefined) return {};
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < MIN_FOLD_AFTER_MS) {
    throw new Error(
      `--usage-fold-after ${value}: expected a duration of at least 15m, like 1h (live gateways rewrite their report every 5 min at most)`,
    );
  }
  return { usageFoldAfterMs: ms };
}

function port(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`${flag} must be a port number (0-65535), got "${value}"`);
  return n;
}

function workers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS)
    throw new Error(`--workers must be a whole number from 1 to ${MAX_WORKERS}, got "${value}"`);
  return n;
}

/** Pure: flags (and the Pod's namespace) → runOperator options. */
export function operatorOptionsFromFlags(
  flags: OperatorFlags,
  podNamespace: string | undefined,
  env: Record<string, string | undefined> = {},
) {
  if (!(LOG_LEVELS as readonly string[]).includes(flags.logLevel)) {
    throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${flags.logLevel}"`);
  }
  return {
    kubeconfig: flags.kubeconfig,
    recordsNamespace: flags.recordsNamespace,
    ...(flags.namespace ? { watchNamespace: flags.namespace } : {}),
    metricsPort: port('--metrics-port', flags.metricsPort),
    healthPort: port('--health-port', flags.healthPort),
    bindAddress: flags.bindAddress,
    logLevel: flags.logLevel as (typeof LOG_LEVELS)[number],
    leaderElection: flags.leaderElect,
    // In a Pod the lease lives next to the operator; outside one, next to the records.
    leaseNamespace: flags.leaseNamespace || podNamespace || flags.recordsNamespace,
    ...(flags.leaseName ? { leaseName: flags.leaseName } : {}),
    ...auditOptionsFromFlags(flags, env),
    ...mailOptionsFromFlags(flags, env),
    ...(flags.workers !== undefined ? { apiKeyWorkers: workers(flags.workers) } : {}),
    ...foldAfterMs(flags.usageFoldAfter),
  };
}

/** The audit receiver (docs/design.md §8); its bearer token only from the environment (a Secret). */
function auditOptionsFromFlags(flags: OperatorFlags, env: Record<string, string | undefined>) {
  const tlsFlags = [flags.auditTlsCertFile, flags.auditTlsKeyFile];
  if (tlsFlags.some(Boolean) && !tlsFlags.every(Boolean)) {
    throw new Error('--audit-tls-cert-file and --audit-tls-key-file go together');
  }
  if (flags.auditClientCaFile && !flags.auditTlsCertFile)
    throw new Error('--audit-client-ca-file needs --audit-tls-cert-file');
  if (flags.auditWebhookPort === undefined) {
    if (tlsFlags.some(Boolean)) throw new Error('--audit-tls-* needs --audit-webhook-port');
    return {};
  }
  const token = env.NEMOKEYS_AUDIT_TOKEN || undefined;
  const tls =
    flags.auditTlsCertFile && flags.auditTlsKeyFile
      ? {
          cert: readFileSync(flags.auditTlsCertFile, 'utf8'),
          key: readFileSync(flags.auditTlsKeyFile, 'utf8'),
          ...(flags.auditClientCaFile ? { clientCa: readFileSync(flags.auditClientCaFile, 'utf8') } : {}),
        }
      : undefined;
  return {
    audit: {
      listen: { host: flags.bindAddress, port: port('--audit-webhook-port', flags.auditWebhookPort) },
      ...(token ? { token } : {}),
      ...(tls ? { tls } : {}),
    },
  };
}

/** Expiry reminder email (docs/design.md §8); SMTP credentials only from the environment (a Secret). */
function mailOptionsFromFlags(flags: OperatorFlags, env: Record<string, string | undefined>) {
  if (!flags.smtpUrl && !flags.mailFrom) return {};
  if (!flags.smtpUrl || !flags.mailFrom) throw new Error('--smtp-url and --mail-from go together');
  parseSmtpUrl(flags.smtpUrl);
  const username = env.NEMOKEYS_SMTP_USERNAME || undefined;
  const password = env.NEMOKEYS_SMTP_PASSWORD || undefined;
  if (password && !username) throw new Error('NEMOKEYS_SMTP_PASSWORD is set but NEMOKEYS_SMTP_USERNAME is not');
  return {
    mail: { url: flags.smtpUrl, from: checkMailFrom(flags.mailFrom), ...(username ? { username, password } : {}) },
  };
}

export function registerOperator(program: Command): void {
  program
    .command('operator')
    .description('run the operator: reconciles Team and ApiKey resources into workload Secrets and hashed key records')
    .option('--kubeconfig <path>', 'kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--records-namespace <ns>', 'namespace of the key records the gateway reads', DEFAULT_RECORDS_NAMESPACE)
    .option('--namespace <ns>', 'reconcile Teams and ApiKeys in this namespace only (default: all namespaces)')
    .option('--metrics-port <n>', 'port of /metrics', '8080')
    .option('--health-port <n>', 'port of /healthz and /readyz', '8081')
    .option('--bind-address <addr>', 'address the metrics and health servers listen on', '0.0.0.0')
    .option('--log-level <level>', LOG_LEVELS.join(' | '), 'info')
    .option('--leader-elect', 'elect a leader through a Lease so only one replica reconciles', true)
    .option('--no-leader-elect', 'run the controllers without leader election (exactly one replica!)')
    .option(
      '--lease-namespace <ns>',
      'namespace of the leader Lease (default: $POD_NAMESPACE, else the records namespace)',
    )
    .option('--lease-name <name>', 'name of the leader Lease', 'nemokeys-operator-leader')
    .option(
      '--audit-webhook-port <n>',
      'receive kube-apiserver audit events (POST /audit) on this port; ' +
        'bearer token from $NEMOKEYS_AUDIT_TOKEN when set (default: no receiver, IPs unknown)',
    )
    .option('--audit-tls-cert-file <path>', 'serve the audit receiver over HTTPS with this certificate (PEM)')
    .option('--audit-tls-key-file <path>', 'private key of --audit-tls-cert-file (PEM)')
    .option('--audit-client-ca-file <path>', "require a client certificate signed by this CA (kube-apiserver's)")
    .option(
      '--smtp-url <url>',
      'mail expiry reminders through this SMTP server: smtp://HOST:PORT or smtps://HOST:PORT ' +
        '(credentials from $NEMOKEYS_SMTP_USERNAME / $NEMOKEYS_SMTP_PASSWORD, never in the URL)',
    )
    .option('--mail-from <addr>', 'sender address of the reminder emails (required with --smtp-url)')
    .option(
      '--workers <n>',
      `ApiKeys reconciled at once (each reconcile is a few API round trips; default ${DEFAULT_APIKEY_WORKERS}, chosen by bench/operator.ts)`,
    )
    .option(
      '--usage-fold-after <duration>',
      'fold usage reports not rewritten for this long (gone gateway replicas) ' +
        'into the usage archive (at least 15m)',
      '1h',
    )
    .action(async (flags: OperatorFlags) => {
      const options = operatorOptionsFromFlags(flags, process.env.POD_NAMESPACE, process.env);
      const { runOperator } = await import('../operator/main.ts');
      const op = await runOperator(options);
      let signals = 0;
      const onSignal = () => {
        // A second signal means "now": skip the graceful drain.
        if (++signals > 1) process.exit(1);
        void op.stop();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      const reason = await op.done;
      process.exit(reason === 'stopped' ? 0 : 1);
    });
}
