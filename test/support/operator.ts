// Starts the real operator (runOperator) in-process against the shared test control plane, with an
// injected clock, captured logs (to prove no plaintext ever reaches them) and access to the work
// queues (after moving the clock, tests enqueue instead of waiting for a requeue timer).
import { Writable } from 'node:stream';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ApiKeyStatus } from '../../api/apikey.ts';
import { API_VERSION, GROUP, KINDS, VERSION } from '../../api/constants.ts';
import { crdYaml } from '../../api/crd.ts';
import { statusCodeOf } from '../../kube/errors.ts';
import { registerControllers, type RegisterOptions } from '../../operator/controllers.ts';
import { runOperator, type OperatorOptions, type RunningOperator } from '../../operator/main.ts';
import type { OperatorContext, QueueHandle } from '../../operator/runtime/context.ts';
import { installCrds } from '../../controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl } from './cluster.ts';

export interface TestClock {
  now(): Date;
  set(d: Date): void;
  advance(ms: number): void;
}

export function testClock(start = new Date()): TestClock {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    set: (d) => {
      t = d.getTime();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

/** Real time that keeps ticking, shiftable by an offset (for tests judged against wall-clock freshness). */
export function realTimeClock(): TestClock {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    set: (d) => {
      offset = d.getTime() - Date.now();
    },
    advance: (ms) => {
      offset += ms;
    },
  };
}

export interface TestOperator {
  running: RunningOperator;
  clock: TestClock;
  /** Every log line (operator + audit) so far. */
  logs: string[];
  recordsNamespace: string;
  enqueue(controller: 'apikey' | 'team', key: string): void;
  /** How many reconciles of `key` the controller has started so far. */
  reconciles(controller: 'apikey' | 'team', key: string): number;
  metricsText(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The operator as shipped (its default controllers, the audit trail with the given options) on free
 * ports, without leader election, its logs dropped: for tests of what the whole operator does.
 */
export function startShippedOperator(opts: {
  kubeconfig: string;
  recordsNamespace: string;
  watchNamespace?: string;
  audit?: OperatorOptions['audit'];
}): Promise<RunningOperator> {
  return runOperator({
    kubeconfig: opts.kubeconfig,
    recordsNamespace: opts.recordsNamespace,
    ...(opts.watchNamespace ? { watchNamespace: opts.watchNamespace } : {}),
    metricsPort: 0,
    healthPort: 0,
    bindAddress: '127.0.0.1',
    logLevel: 'warn',
    leaderElection: false,
    leaseNamespace: opts.recordsNamespace,
    logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
    ...(opts.audit ? { audit: opts.audit } : {}),
  });
}

/** watchNamespace keeps an operator with a jumping clock away from other test files' leftover ApiKeys. */
export async function startTestOperator(opts: {
  recordsNamespace: string;
  clock?: TestClock;
  watchNamespace?: string;
  /** Options of registerControllers (crash injection, fold timing). */
  controllers?: RegisterOptions;
}): Promise<TestOperator> {
  await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: opts.recordsNamespace } } }).catch(() => undefined);
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const clock = opts.clock ?? testClock();
  const queues = new Map<string, QueueHandle>();
  const started = new Map<string, number>();
  const running = await runOperator({
    kubeconfig: clusterKubeconfig(),
    recordsNamespace: opts.recordsNamespace,
    watchNamespace: opts.watchNamespace,
    metricsPort: 0,
    healthPort: 0,
    bindAddress: '127.0.0.1',
    logLevel: 'debug',
    leaderElection: false,
    leaseNamespace: opts.recordsNamespace,
    clock,
    logDestination: destination,
    registerControllers: (ctx: OperatorContext) =>
      registerControllers(
        {
          ...ctx,
          runController: (reconciler, o) => {
            const counted = {
              name: reconciler.name,
              reconcile: (key: string) => {
                const id = `${reconciler.name} ${key}`;
                started.set(id, (started.get(id) ?? 0) + 1);
                return reconciler.reconcile(key);
              },
            };
            const h = ctx.runController(counted, o);
            queues.set(reconciler.name, h);
            return h;
          },
        },
        opts.controllers,
      ),
  });
  return {
    running,
    clock,
    logs,
    recordsNamespace: opts.recordsNamespace,
    enqueue: (controller, key) => {
      const q = queues.get(controller);
      if (!q) throw new Error(`controller ${controller} not started yet`);
      q.enqueue(key);
    },
    reconciles: (controller, key) => started.get(`${controller} ${key}`) ?? 0,
    metricsText: async () => (await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`)).text(),
    stop: () => running.stop(),
  };
}

/** Polls `fn` until it returns a truthy value (or throws the last error after `timeoutMs`). */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Creates namespace `namespace` (if missing) and in it a Team `team` (default: allows every model). */
export async function createTeam(
  kc: KubeConfig,
  namespace: string,
  team: string,
  spec: Record<string, unknown> = { allowedModels: ['*'] },
): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: namespace } } })
    .catch((e: unknown) => {
      if (statusCodeOf(e) !== 409) throw e;
    });
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: KINDS.team.plural,
    namespace,
    body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name: team }, spec },
  });
}

/** Creates ApiKey `namespace/name` with `spec`, waits until the operator made it Ready; its key id and key. */
export async function createReadyKey(
  kc: KubeConfig,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<{ keyId: string; key: string }> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const plural = KINDS.apiKey.plural;
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural,
    namespace,
    body: { apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name }, spec },
  });
  const keyId = await eventually(
    async () => {
      const s = (
        (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace, name })) as {
          status?: ApiKeyStatus;
        }
      ).status;
      return s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? s.currentKeyId : undefined;
    },
    30_000,
    `ApiKey ${namespace}/${name} Ready`,
  );
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name });
  return { keyId, key: Buffer.from(secret.data!['api-key']!, 'base64').toString('utf8') };
}
