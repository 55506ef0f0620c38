// Starts the audit trail of one operator process (docs/design.md §8): the trail store, the recorder,
// the receiver for kube-apiserver's audit webhook (when a listen port is given), and the hook that
// copies the operator's own actions from its audit stream into the trail.
import type { KubeClient } from '../../kube/client.ts';
import type { DestinationStream } from 'pino';
import type { Registry } from 'prom-client';
import { apiErrorMessage } from '../../kube/errors.ts';
import type { Audit, Logger } from '../runtime/log.ts';
import type { SharedInformers } from '../controllers.ts';
import type { OperatorContext } from '../runtime/context.ts';
import { registerObservedChanges, type ObservedChanges } from './observed.ts';
import { startAuditReceiver, type Receiver, type ReceiverOptions } from './receiver.ts';
import { createRecorder } from './recorder.ts';
import { createTrailStore } from './trail-store.ts';
import { issuedKeyFrom } from './trail.ts';
import { limiter } from '../runtime/limiter.ts';

/** Trail writes of the operator's own actions in flight at once (each a few requests, off the reconcile path). */
const TRAIL_WRITES_IN_FLIGHT = 4;

export interface AuditTrailOptions {
  /** Listen for kube-apiserver's audit webhook here; undefined = no receiver (no audit events). */
  listen?: { host: string; port: number };
  token?: ReceiverOptions['token'];
  tls?: ReceiverOptions['tls'];
  /** How the operator's own entries name it. Default `nemokeys-operator (<its Kubernetes user>)`. */
  operatorActor?: string;
  maxEntries?: number;
  /**
   * How long a change may wait for its audit event before it is recorded as observed (field manager,
   * IP unknown). Default 5 min with a receiver (kube-apiserver: 30 s batches + ~2 min of retries), else 1 s.
   */
  observedGraceMs?: number;
}

export interface AuditTrail {
  port: number | undefined;
  /** The operator's audit stream, plus a trail entry for each action the operator took by itself. */
  wrap(audit: Audit): Audit;
  /** Leader-only part: changes no audit event arrived for (operator/audit/observed.ts). */
  register(ctx: OperatorContext, informers: Pick<SharedInformers, 'apiKeys'>): Promise<void>;
  close(): Promise<void>;
}

/** The operator's own user (SelfSubjectReview): its requests are not "changes by a person". */
export async function whoAmI(kube: KubeClient): Promise<string | undefined> {
  const review = await kube.request<{ status?: { userInfo?: { username?: string } } }>(
    'POST',
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return review.status?.userInfo?.username;
}

export async function startAuditTrail(
  opts: AuditTrailOptions & {
    kube: KubeClient;
    log: Logger;
    registry: Registry;
    destination?: DestinationStream;
  },
): Promise<AuditTrail> {
  const log = opts.log.child({ component: 'audit-trail' });
  let operatorUser: string | undefined;
  try {
    operatorUser = await whoAmI(opts.kube);
  } catch (err) {
    log.warn(
      { error: apiErrorMessage(err) },
      "SelfSubjectReview failed: the operator's own requests may appear as user changes",
    );
  }
  const store = createTrailStore(opts.kube, { maxEntries: opts.maxEntries, warn: (m) => log.warn(m) });
  const recorder = createRecorder({
    kube: opts.kube,
    store,
    log,
    registry: opts.registry,
    destination: opts.destination,
    ...(operatorUser ? { operatorUser } : {}),
    operatorActor: opts.operatorActor ?? (operatorUser ? `nemokeys-operator (${operatorUser})` : 'nemokeys-operator'),
  });
  let receiver: Receiver | undefined;
  if (opts.listen) {
    receiver = await startAuditReceiver({
      ...opts.listen,
      recorder,
      log,
      registry: opts.registry,
      ...(opts.token ? { token: opts.token } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
    });
    log.info({ port: receiver.port, operatorUser }, 'audit receiver listening');
  }
  const pending = new Set<Promise<void>>();
  const trailWrites = limiter(TRAIL_WRITES_IN_FLIGHT);
  let observed: ObservedChanges | undefined;
  return {
    port: receiver?.port,
    wrap: (audit) => (record) => {
      audit(record);
      // Actions people asked for are in the trail already (from their audit event, or as an observed
      // change), or will be; their entry may predate the key the operator just issued for it: name it.
      // Without a receiver the observed changes are the only such entries, and name it in their own write.
      const byPerson = record.actor.startsWith('user:');
      if (byPerson && observed && !receiver) {
        const issued = issuedKeyFrom(record);
        if (issued) observed.noteIssued(record.apiKey, issued);
        return;
      }
      const p = trailWrites(() =>
        byPerson ? recorder.recordIssuedKey(record) : recorder.recordOperatorAction(record),
      ).finally(() => pending.delete(p));
      pending.add(p);
    },
    async register(ctx, informers) {
      observed = await registerObservedChanges(ctx, informers, {
        store,
        graceMs: opts.observedGraceMs ?? (receiver ? 5 * 60_000 : 1000),
        soleRecorder: !receiver,
        onEntry: (ref, e) => recorder.emit({ kind: 'ApiKey', ...ref }, e),
      });
    },
    async close() {
      await receiver?.close();
      await Promise.allSettled([...pending]);
    },
  };
}
