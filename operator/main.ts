// The operator process: kubeconfig → logger, audit, metrics → ops servers → leader election →
// (as leader) registerControllers(ctx) from ./controllers.ts on a fresh manager. Losing the lease
// stops everything and resolves `done` with 'leadership-lost' (the CLI exits non-zero, Kubernetes
// restarts the Pod, it comes back as a standby), as controller-runtime does.
import type { DestinationStream } from 'pino';
import { KubeClient } from '../kube/client.ts';
import { loadKubeConnection } from '../kube/kubeconfig.ts';
import { apiErrorMessage } from '../kube/errors.ts';
import type { OperatorContext, RegisterControllers } from './runtime/context.ts';
import { Readiness, startOpsServer, type OpsServer } from './runtime/health.ts';
import { DEFAULT_LEASE_NAME, defaultIdentity, LeaderElector, type LeaderElectionOptions } from './runtime/leader.ts';
import { createAudit, createLogger, type LogLevel } from './runtime/log.ts';
import { createManager, type InformerTuning, type Manager } from './runtime/manager.ts';
import { createOperatorMetrics } from './runtime/metrics.ts';
import { systemClock, type Clock } from './runtime/types.ts';
import { startAuditTrail, type AuditTrailOptions } from './audit/wiring.ts';
import { createMailer, type MailerOptions } from './reminders/mailer.ts';
import { registerReminders } from './reminders/register.ts';

export interface OperatorOptions {
  kubeconfig?: string;
  recordsNamespace: string;
  /** Only this namespace's Teams and ApiKeys (like cert-manager's --namespace); default all. */
  watchNamespace?: string;
  /** 0 picks a free port (tests); equal ports share one server. */
  metricsPort: number;
  healthPort: number;
  bindAddress?: string;
  logLevel: LogLevel;
  leaderElection: boolean;
  leaseNamespace: string;
  leaseName?: string;
  identity?: string;
  leaderTiming?: Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>;
  informerTuning?: InformerTuning;
  /** ApiKeys reconciled at once (default DEFAULT_APIKEY_WORKERS). */
  apiKeyWorkers?: number;
  clock?: Clock;
  /** Default: registerControllers from ./controllers.ts. */
  registerControllers?: RegisterControllers;
  logDestination?: DestinationStream;
  /** Expiry reminder emails (operator/reminders/); undefined = none. */
  mail?: MailerOptions;
  /** The audit trail and its receiver for kube-apiserver's audit webhook (operator/audit/wiring.ts). */
  audit?: AuditTrailOptions;
  /** Usage reports not rewritten for this long are folded into the archive (default 1 h, operator/usage/fold.ts). */
  usageFoldAfterMs?: number;
  /** How often the fold pass runs (default 1 min). */
  usageFoldPeriodMs?: number;
}

export type StopReason = 'stopped' | 'leadership-lost' | 'controllers-failed';

export interface RunningOperator {
  readonly metricsPort: number;
  readonly healthPort: number;
  /** Port of the audit receiver, when it runs. */
  readonly auditPort: number | undefined;
  readonly isLeader: () => boolean;
  /** Resolves once the operator has stopped, with why. */
  readonly done: Promise<StopReason>;
  stop(): Promise<void>;
}

async function loadControllers(opts: Pick<OperatorOptions, 'usageFoldAfterMs' | 'usageFoldPeriodMs'>) {
  // Loaded only when no registerControllers is injected (tests inject stand-ins).
  const { registerKeyControllers } = await import('./controllers.ts');
  return (ctx: OperatorContext) =>
    registerKeyControllers(ctx, {
      ...(opts.usageFoldAfterMs !== undefined ? { usageFoldAfterMs: opts.usageFoldAfterMs } : {}),
      ...(opts.usageFoldPeriodMs !== undefined ? { usageFoldPeriodMs: opts.usageFoldPeriodMs } : {}),
    });
}

export async function runOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const log = createLogger({ level: opts.logLevel, destination: opts.logDestination });
  const kube = new KubeClient(loadKubeConnection({ kubeconfig: opts.kubeconfig }), { userAgent: 'nemokeys-operator' });
  const metrics = createOperatorMetrics();
  const trail = await startAuditTrail({
    kube,
    log,
    registry: metrics.registry,
    destination: opts.logDestination,
    ...opts.audit,
  });
  const audit = trail.wrap(createAudit({ destination: opts.logDestination }));
  const mailer = opts.mail ? createMailer(opts.mail) : undefined;
  const register: RegisterControllers =
    opts.registerControllers ??
    (async (ctx) => {
      const informers = await defaults!(ctx); // the ApiKey and Team watches, shared with the controllers below
      await trail.register(ctx, informers);
      if (mailer) await registerReminders(ctx, mailer, informers);
    });
  const readiness = new Readiness();
  const clock = opts.clock ?? systemClock;
  // The audit trail's and the reminders' leader-only controllers join the default set only: tests that
  // inject stand-ins get exactly what they inject.
  const defaults = opts.registerControllers ? undefined : await loadControllers(opts);
  metrics.leader.set(0);

  const host = opts.bindAddress ?? '0.0.0.0';
  const servers: OpsServer[] = [];
  const metricsServer = await startOpsServer({
    port: opts.metricsPort,
    host,
    registry: metrics.registry,
    ...(opts.metricsPort === opts.healthPort && opts.metricsPort !== 0 ? { readiness } : {}),
  });
  servers.push(metricsServer);
  const healthServer =
    opts.metricsPort === opts.healthPort && opts.metricsPort !== 0
      ? metricsServer
      : await startOpsServer({ port: opts.healthPort, host, readiness });
  if (healthServer !== metricsServer) servers.push(healthServer);

  let manager: Manager | undefined;
  let stopping: Promise<void> | undefined;
  let resolveDone!: (r: StopReason) => void;
  const done = new Promise<StopReason>((r) => {
    resolveDone = r;
  });
  let elector: LeaderElector | undefined;

  const startControllers = () => {
    metrics.leader.set(1);
    const m = createManager({
      kube,
      clock,
      log,
      audit,
      metrics,
      readiness,
      recordsNamespace: opts.recordsNamespace,
      watchNamespace: opts.watchNamespace,
      informerTuning: opts.informerTuning,
      apiKeyWorkers: opts.apiKeyWorkers,
    });
    manager = m;
    m.run(register).catch((err: unknown) => {
      if (stopping) return; // informers rejected because we are stopping
      log.error({ error: apiErrorMessage(err) }, 'controllers failed to start');
      void shutdown('controllers-failed');
    });
  };

  const shutdown = (reason: StopReason): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'operator stopping');
      // Controllers first (in-flight reconciles finish), then the lease: the next leader must not
      // start writing while we still do.
      await manager?.stop();
      metrics.leader.set(0);
      if (elector) {
        if (reason === 'leadership-lost') await elector.abandon();
        else await elector.stop();
      }
      await Promise.all([...servers.map((s) => s.close()), trail.close()]);
      mailer?.close();
      log.info({ reason }, 'operator stopped');
      resolveDone(reason);
    })();
    return stopping;
  };

  if (opts.leaderElection) {
    elector = new LeaderElector({
      kube,
      namespace: opts.leaseNamespace,
      name: opts.leaseName ?? DEFAULT_LEASE_NAME,
      identity: opts.identity ?? defaultIdentity(),
      log: log.child({ component: 'leader-election' }),
      ...opts.leaderTiming,
      onStartedLeading: startControllers,
      onStoppedLeading: (reason) => {
        if (reason === 'lost') void shutdown('leadership-lost');
      },
    });
    elector.start();
  } else {
    log.warn('leader election disabled: run exactly one replica');
    startControllers();
  }
  log.info(
    {
      metricsPort: metricsServer.port,
      healthPort: healthServer.port,
      recordsNamespace: opts.recordsNamespace,
      leaderElection: opts.leaderElection,
      server: kube.connection.server,
    },
    'operator started',
  );

  return {
    metricsPort: metricsServer.port,
    healthPort: healthServer.port,
    auditPort: trail.port,
    isLeader: () => (elector ? elector.isLeader : true),
    done,
    stop: () => shutdown('stopped'),
  };
}
