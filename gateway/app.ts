import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { KeyRecord } from '../api/record.ts';
import { checkModel, isJsonContentType } from './checks/model.ts';
import { precheck } from './checks/precheck.ts';
import { allModelsAllowed, endpointLabel, type ModelSource } from './checks/scopes.ts';
import { compileCidrs, peerTrusted } from './client-ip.ts';
import { errorBody, errorSpec, INTERNAL_ERROR_BODY, NOT_FOUND_BODY, shouldRetry, type DenialReason } from './errors.ts';
import type { Limiter } from './limits/limiter.ts';
import { GatewayMetrics } from './metrics.ts';
import { DEFAULT_MAX_BODY_BYTES, readBoundedBody } from './proxy/body.ts';
import { clientFraming } from './proxy/framing.ts';
import { forward, type ForwardTiming } from './proxy/forward.ts';
import { createUpstream } from './proxy/upstream.ts';
import type { RecordStore } from './records/store.ts';
import type { UsageTracker } from './usage/tracker.ts';

// The gateway's request path (docs/design.md §4): a fastify reverse proxy that never listens by itself.
//   onRequest  → every check that needs no body (key, expiry/revocation, source IP, endpoint), then,
//                for proxied routes, the model of JSON bodies (bounded), rate limit and budget, forward
// The whole proxied path runs from the onRequest hook, which never calls done(): fastify's
// content-type parsing, handler and reply pipeline are skipped (a measurable share of a small
// request's CPU). Routing, hooks order and the error handler stay fastify's.
// Nothing is counted against a key until every check passed; denials cost nothing.

export interface GatewayDeps {
  records: RecordStore;
  usage: UsageTracker;
  upstream: URL;
  limiter: Limiter;
  /** ms since epoch; injected so expiry and windows are testable. */
  clock?: () => number;
  /** CIDRs of proxies whose X-Forwarded-For is believed (default: none). */
  trustedProxies?: string[];
  metrics?: GatewayMetrics;
  /** Only used when `metrics` is not given. */
  perKeyLabels?: boolean;
  maxBodyBytes?: number;
  /** A pino logger; auth headers are redacted from anything it logs. Default: no logging. */
  logger?: FastifyBaseLogger;
  /** Authorization header value for the router behind (the client's key is never forwarded). */
  upstreamAuthorization?: string;
}

interface RequestState {
  startedAt: number;
  record: KeyRecord | undefined;
  endpoint: string;
  modelSource: ModelSource;
  model: string | undefined;
  timing: ForwardTiming | undefined;
}

/** Auth headers in every shape pino may see them; the key must never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
];

const STATE = 'nemokeysGateway';
type StatefulRequest = FastifyRequest & { [STATE]: RequestState | null };

const PROXIED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

function carriesBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

export function buildApp(deps: GatewayDeps): FastifyInstance {
  const clock = deps.clock ?? Date.now;
  const trusted = compileCidrs(deps.trustedProxies ?? [], { strict: true });
  const metrics = deps.metrics ?? new GatewayMetrics({ perKeyLabels: deps.perKeyLabels ?? true });
  metrics.bindStore(deps.records);
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const upstream = createUpstream(deps.upstream);
  const logging = deps.logger !== undefined;

  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger.child({ component: 'gateway' }, { redact: REDACTED_PATHS }) } : { logger: false }),
    exposeHeadRoutes: false,
    // a long opaque id in a path (files, batches, ...) must not turn into a 404
    routerOptions: { maxParamLength: 2048 },
  });

  // Bodies are ours to stream or to buffer (bounded) in the handler, so fastify must not read them.
  app.decorateRequest(STATE, null); // a fixed shape for every request object
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  function deny(request: FastifyRequest, reply: FastifyReply, reason: DenialReason, record: KeyRecord | undefined, opts: { detail?: string; retryAfterS?: number } = {}) {
    metrics.denial(reason, record);
    const spec = errorSpec(reason);
    reply
      .code(spec.status)
      .header('content-type', 'application/json; charset=utf-8')
      .header('x-should-retry', shouldRetry(reason) ? 'true' : 'false');
    if (opts.retryAfterS !== undefined) reply.header('retry-after', String(opts.retryAfterS));
    // an oversized body is not drained: close the connection instead
    if (reason === 'body_too_large') reply.header('connection', 'close');
    if (logging) request.log.info({ reason, keyId: record?.keyId }, 'request denied');
    return reply.send(errorBody(reason, opts.detail));
  }

  app.addHook('onRequest', (request, reply, done) => {
    const startedAt = performance.now();
    const result = precheck({
      synced: deps.records.synced,
      lookup: (keyId) => deps.records.get(keyId),
      headers: request.headers,
      method: request.method,
      url: request.url,
      peer: request.raw.socket.remoteAddress,
      trustedProxies: trusted,
      nowMs: clock(),
    });
    const state: RequestState = {
      startedAt,
      record: result.record,
      endpoint: result.ok ? endpointLabel(result.endpoint) : '',
      modelSource: result.ok ? result.modelSource : 'none',
      model: undefined,
      timing: undefined,
    };
    (request as StatefulRequest)[STATE] = state;
    // replying from a callback hook: done() must not be called
    if (!result.ok) {
      deny(request, reply, result.reason, result.record);
      return;
    }
    if (request.is404) {
      done(); // a method outside PROXIED_METHODS from an authenticated caller: the not-found handler
      return;
    }
    proxy(request, reply, state, result.record).catch((err: unknown) => {
      // what fastify does with a handler's rejection: the error handler answers, unless we already did
      if (!reply.sent) reply.send(err);
      else request.log.error({ err: (err as Error).message }, 'gateway error after the reply started');
    });
  });

  app.addHook('onResponse', (request, reply, done) => {
    // answers the gateway gave itself (denials); proxied requests are accounted for when they settle
    const state = (request as StatefulRequest)[STATE];
    if (state !== null && state.timing === undefined) {
      metrics.request(state.record, state.model, state.endpoint, reply.statusCode);
      metrics.overhead((performance.now() - state.startedAt) / 1000);
    }
    done();
  });

  async function proxy(request: FastifyRequest, reply: FastifyReply, state: RequestState, record: KeyRecord): Promise<void> {
    const framing = clientFraming(request.headers);
    if (framing === undefined) {
      deny(request, reply, 'bad_request', record, { detail: 'The request body framing (Content-Length / Transfer-Encoding) is invalid.' });
      return;
    }
    let body: Buffer | undefined;
    const readModel =
      state.modelSource === 'json-required' ||
      state.modelSource === 'json-optional' ||
      (carriesBody(request.method) && isJsonContentType(request.headers['content-type']) && !allModelsAllowed(record.scopes.models));
    if (readModel) {
      const read = await readBoundedBody(request.raw, maxBodyBytes);
      if (!read.ok) {
        deny(request, reply, read.reason, record);
        return;
      }
      const model = checkModel(record, state.modelSource, read.body);
      if (!model.ok) {
        deny(request, reply, model.reason, record, { detail: model.detail });
        return;
      }
      state.model = model.model;
      body = read.body;
    }

    const now = clock();
    let admission;
    try {
      const pending = deps.limiter.admit(record.limitsKey, record, 1, now);
      admission = pending instanceof Promise ? await pending : pending; // the memory limiter answers synchronously
    } catch (err) {
      request.log.error({ err: (err as Error).message }, 'limiter unavailable');
      deny(request, reply, 'limiter_unavailable', record);
      return;
    }
    if (!admission.ok) {
      const reason = admission.reason === 'rate_limit' ? 'rate_limited' : 'budget_exhausted';
      deny(request, reply, reason, record, admission.retryAfterS === undefined ? {} : { retryAfterS: admission.retryAfterS });
      return;
    }

    // admitted: from here on the request counts
    const reservation = admission.reservation;
    const timing: ForwardTiming = { dispatchedAt: 0, afterHeadersMs: 0 };
    state.timing = timing;
    await forward(request, reply, {
      upstream,
      authorization: deps.upstreamAuthorization,
      body,
      framing,
      peer: request.raw.socket.remoteAddress,
      peerTrusted: peerTrusted(request.raw.socket.remoteAddress, trusted),
      timing,
      onSettled: ({ status, cost, upstreamSeconds }) => {
        // the reply was hijacked, so onResponse (and fastify's completion log) do not run: do it here
        if (logging) request.log.info({ keyId: record.keyId, statusCode: status, cost, responseTime: performance.now() - state.startedAt }, 'request completed');
        metrics.request(record, state.model, state.endpoint, status);
        metrics.overhead((timing.dispatchedAt - state.startedAt + timing.afterHeadersMs) / 1000);
        if (upstreamSeconds !== undefined) metrics.upstream(upstreamSeconds);
        // the router never answered (the gateway's own 502): nothing was used, the request slot goes back
        const reached = upstreamSeconds !== undefined;
        if (reached) {
          deps.usage.record(record.keyId, 0, now);
          metrics.keyUsed(record, now);
          if (cost > 0) deps.usage.addCredits(record.keyId, cost);
        }
        const outcome = { cost: reached ? cost : 0, refundRequest: !reached };
        Promise.resolve(deps.limiter.settle(record.limitsKey, record, reservation, outcome, clock())).catch((err: unknown) =>
          request.log.error({ err: (err as Error).message }, 'could not settle usage'),
        );
      },
    });
  }

  // Never reached: the onRequest hook answers every request on these routes (see the top).
  function handler(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
    return reply.code(500).header('content-type', 'application/json; charset=utf-8').send(INTERNAL_ERROR_BODY);
  }
  app.route({ method: [...PROXIED_METHODS], url: '/', handler });
  app.route({ method: [...PROXIED_METHODS], url: '/*', handler });
  // methods outside PROXIED_METHODS (TRACE, CONNECT, ...) from an authenticated caller
  app.setNotFoundHandler((_request, reply) => {
    reply.code(405).header('content-type', 'application/json; charset=utf-8').send(NOT_FOUND_BODY);
  });
  app.setErrorHandler((error, request, reply) => {
    const err = error as { message?: string; code?: string; statusCode?: number };
    request.log.error({ err: err.message, code: err.code }, 'gateway error');
    const clientError = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500;
    reply
      .code(clientError ? 400 : 500)
      .header('content-type', 'application/json; charset=utf-8')
      .send(clientError ? errorBody('bad_request') : INTERNAL_ERROR_BODY);
  });
  app.addHook('onClose', (_app, done) => {
    upstream.agent.destroy();
    done();
  });
  return app;
}
