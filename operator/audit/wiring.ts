// Starts the audit trail of one operator process (docs/design.md §8): the trail store, the recorder,
// the receiver for kube-apiserver's audit webhook (when a listen port is given), and the hook that
// copies the operator's own actions from its audit stream into the trail.
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { DestinationStream } from 'pino';
import type { Registry } from 'prom-client';
import { apiErrorMessage } from '../../kube/errors.ts';
import type { Audit, Logger } from '../runtime/log.ts';
import { startAuditReceiver, type Receiver, type ReceiverOptions } from './receiver.ts';
import { createRecorder } from './recorder.ts';
import { createTrailStore } from './trail-store.ts';

export interface AuditTrailOptions {
  /** Listen for kube-apiserver's audit webhook here; undefined = no receiver (no audit events). */
  listen?: { host: string; port: number };
  token?: ReceiverOptions['token'];
  tls?: ReceiverOptions['tls'];
  /** How the operator's own entries name it. Default `nemokeys-operator (<its Kubernetes user>)`. */
  operatorActor?: string;
  maxEntries?: number;
}

export interface AuditTrail {
  port: number | undefined;
  /** The operator's audit stream, plus a trail entry for each action the operator took by itself. */
  wrap(audit: Audit): Audit;
  close(): Promise<void>;
}

/** The operator's own user (SelfSubjectReview): its requests are not "changes by a person". */
async function whoAmI(kc: KubeConfig): Promise<string | undefined> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
  return review.status?.userInfo?.username;
}

export async function startAuditTrail(opts: AuditTrailOptions & {
  kc: KubeConfig; log: Logger; registry: Registry; destination?: DestinationStream;
}): Promise<AuditTrail> {
  const log = opts.log.child({ component: 'audit-trail' });
  let operatorUser: string | undefined;
  try {
    operatorUser = await whoAmI(opts.kc);
  } catch (err) {
    log.warn({ error: apiErrorMessage(err) }, 'SelfSubjectReview failed: the operator\'s own requests may appear as user changes');
  }
  const store = createTrailStore(opts.kc, { maxEntries: opts.maxEntries, warn: (m) => log.warn(m) });
  const recorder = createRecorder({
    kc: opts.kc, store, log, registry: opts.registry, destination: opts.destination,
    ...(operatorUser ? { operatorUser } : {}),
    operatorActor: opts.operatorActor ?? (operatorUser ? `nemokeys-operator (${operatorUser})` : 'nemokeys-operator'),
  });
  let receiver: Receiver | undefined;
  if (opts.listen) {
    receiver = await startAuditReceiver({ ...opts.listen, recorder, log, registry: opts.registry,
      ...(opts.token ? { token: opts.token } : {}), ...(opts.tls ? { tls: opts.tls } : {}) });
    log.info({ port: receiver.port, operatorUser }, 'audit receiver listening');
  }
  const pending = new Set<Promise<void>>();
  return {
    port: receiver?.port,
    wrap: (audit) => (record) => {
      audit(record);
      // Actions people asked for are in the trail from the API server's audit event already. Without
      // audit events, the operator's record of them (actor = field manager, IP unknown) is all there is.
      const byPerson = record.actor.startsWith('user:');
      if (byPerson && receiver) return;
      const p = recorder.recordOperatorAction(record, byPerson ? `${record.actor.slice(5)} (field manager)` : undefined)
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async close() {
      await receiver?.close();
      await Promise.allSettled([...pending]);
    },
  };
}
