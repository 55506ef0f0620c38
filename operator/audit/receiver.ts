// The operator's audit receiver (docs/design.md §8): kube-apiserver's webhook backend posts
// audit.k8s.io/v1 EventLists here. We answer 200 only once the batch is in the trail; any failure
// answers 500, which kube-apiserver retries (with backoff) — the batch is never acknowledged unrecorded.
// The same server answers the admission webhook (./admission.ts) that annotates those audit events.
// Runs on every replica (not only the leader): the API server must find a receiver during a roll-out.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { apiErrorMessage } from '../../kube/errors.ts';
import type { Logger } from '../runtime/log.ts';
import { ADMISSION_PATH, reviewResponse } from './admission.ts';
import { auditEventList, changesOf } from './event.ts';
import type { Recorder } from './recorder.ts';

export const AUDIT_PATH = '/audit';

export interface ReceiverOptions {
  host: string;
  port: number;
  recorder: Recorder;
  log: Logger;
  registry: Registry;
  /** When set, requests must carry `Authorization: Bearer <token>` (the webhook kubeconfig's user token). */
  token?: string;
  /** HTTPS (PEM); with `clientCa`, the API server must present a client certificate signed by it. */
  tls?: { cert: string; key: string; clientCa?: string };
}

export interface Receiver {
  port: number;
  close(): Promise<void>;
}

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export async function startAuditReceiver(opts: ReceiverOptions): Promise<Receiver> {
  const batches = new Counter({
    name: 'nemokeys_audit_batches_total',
    help: 'Audit EventLists received from kube-apiserver, by result (recorded, rejected, failed = answered 500, re-sent)',
    labelNames: ['result'],
    registers: [opts.registry],
  });
  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: 64 * 1024 * 1024,
    // kube-apiserver keeps its webhook connections open: without this, close() (operator stop, Ctrl-C in
    // `nemokeys dev`) waits for them. A batch cut off is re-sent (idempotent by audit ID) or observed.
    forceCloseConnections: true,
    ...(opts.tls
      ? {
          https: {
            cert: opts.tls.cert,
            key: opts.tls.key,
            ...(opts.tls.clientCa ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          },
        }
      : {}),
  }) as unknown as FastifyInstance;
  app.post(AUDIT_PATH, async (req, reply) => {
    if (opts.token && !sameSecret(req.headers.authorization ?? '', `Bearer ${opts.token}`)) {
      batches.inc({ result: 'rejected' });
      return reply.code(401).send({ error: 'audit receiver: missing or wrong bearer token' });
    }
    const list = auditEventList.safeParse(req.body);
    if (!list.success) {
      batches.inc({ result: 'rejected' });
      // 400 is not retried by kube-apiserver: a body that does not parse never will.
      return reply
        .code(400)
        .send({ error: `audit receiver: expected an audit.k8s.io/v1 EventList: ${list.error.message}` });
    }
    const { changes, invalid } = changesOf(list.data.items);
    if (invalid) opts.log.warn({ invalid }, 'audit events that do not parse were skipped');
    try {
      const recorded = await opts.recorder.recordChanges(changes);
      batches.inc({ result: 'recorded' });
      return reply.code(200).send({ recorded });
    } catch (err) {
      batches.inc({ result: 'failed' });
      opts.log.warn({ error: apiErrorMessage(err) }, 'audit batch not recorded; kube-apiserver will re-send it');
      return reply.code(500).send({ error: 'audit receiver: batch not recorded, retry' });
    }
  });
  app.post(ADMISSION_PATH, async (req, reply) => {
    const res = reviewResponse(req.body);
    return reply.code(res.status).send(res.body);
  });
  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    close: () => app.close(),
  };
}
