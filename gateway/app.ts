import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { KeyRecord } from '../api/record.ts';
import { precheck } from './checks/precheck.ts';
import { endpointLabel, type ModelSource } from './checks/scopes.ts';
import { compileCidrs, peerTrusted } from './client-ip.ts';
import { errorBody, errorSpec, INTERNAL_ERROR_BODY, NOT_FOUND_BODY, shouldRetry, type DenialReason } from './errors.ts';
import type { Limiter } from './limits/limiter.ts';
import { gatewayLogger } from './logging.ts';
import { GatewayMetrics } from './metrics.ts';
import { DEFAULT_RESERVATION_TOKENS, reservationEstimate } from './limits/estimate.ts';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_MULTIPART_BYTES } from './proxy/body.ts';
import { inspectBody, mustInspect, type BodyLimits } from './proxy/inspect.ts';
import { requestStreamUsage } from './proxy/stream-usage.ts';
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
  /** Bound on a JSON body read for its model (default 1 MiB). */
  maxBodyBytes?: number;
  /** Bound on a multipart body read for its `model` field, for model-scoped keys (default 32 MiB). */
  maxMultipartBytes?: number;
  /** What a model request reserves when it sets no max_tokens (docs/design.md §4, "Costs"). */
  defaultReservationTokens?: number;
  /** Routes model-scoped keys may call although the gateway cannot tell their model. */
  passThroughRoutes?: string[];
  /** Ask the router for usage on streams (`stream_options.include_usage`; default true). */
  streamUsage?: boolean;
  /** A pino logger; auth headers are redacted from anything it logs. Default: no logging. */
  logger?: FastifyBaseLogger;
  /** Authorization header value for the router behind (the client's key is never forwarded). */
  upstreamAuthorization?: string;
}

interface RequestState {
  startedAt: number;
  record: KeyRecord | undefined;
  endpoint: string;
  /** The path without /v1, as scopes see it. */
  path: string;
  modelSource: ModelSource;
  pathModel: string | undefined;
  model: string | undefined;
  timing: ForwardTiming | undefined;
}

const STATE = 'nemokeysGateway';
type StatefulRequest = FastifyRequest & { [STATE]: RequestState | null };

const PROXIED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

const CLOSING_DETAIL = 'The connection is closing: an earlier request on it was refused before its body was read.';

function hasBody(headers: FastifyRequest['headers']): boolean {
  const cl = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

function expectsContinue(expect: string | undefined): boolean {
  return expect !== undefined && expect.trim().toLowerCase() === '100-continue';
}

export function buildApp(deps: GatewayDeps): FastifyInstance {
  const clock = deps.clock ?? Date.now;
  const trusted = compileCidrs(deps.trustedProxies ?? [], { strict: true });
  const metrics = deps.metrics ?? new GatewayMetrics({ perKeyLabels: deps.perKeyLabels ?? true });
  metrics.bindStore(deps.records);
  const bodyLimits: BodyLimits = {
    maxJsonBytes: deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxMultipartBytes: deps.maxMultipartBytes ?? DEFAULT_MAX_MULTIPART_BYTES,
  };
  const defaultReservation = deps.defaultReservationTokens ?? DEFAULT_RESERVATION_TOKENS;
  const passThroughRoutes = deps.passThroughRoutes ?? [];
  const streamUsage = deps.streamUsage ?? true;
  const upstream = createUpstream(deps.upstream);
  const logging = deps.logger !== undefined;

  const app = Fastify({
    ...(deps.logger ? { loggerInstance: gatewayLogger(deps.logger) } : { logger: false }),
    exposeHeadRoutes: false,
    // a long opaque id in a path (files, batches, ...) must not turn into a 404
    routerOptions: { maxParamLength: 2048 },
  });

  // node answers `Expect: 100-continue` before any check unless someone listens for it: hand those
  // requests to fastify like any other, and send 100 Continue once the checks without a body passed
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));

  // Bodies are ours to stream or to buffer (bounded) in the handler, so fastify must not read them.
  app.decorateRequest(STATE, null); // a fixed shape for every request object
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  function deny(
    request: FastifyRequest,
    reply: FastifyReply,
    reason: DenialReason,
    record: KeyRecord | undefined,
    opts: { detail?: string; retryAfterS?: number } = {},
  ) {
    metrics.denial(reason, record);
    const spec = errorSpec(reason);
    reply
      .code(spec.status)
      .header('content-type', 'application/json; charset=utf-8')
      .header('x-should-retry', shouldRetry(reason) ? 'true' : 'false');
    if (opts.retryAfterS !== undefined) reply.header('retry-after', String(opts.retryAfterS));
    // a body left unread is not drained (it may be large, or never come): close the connection instead,
    // and forward nothing more from it (pipelined requests behind this one would get no answer)
    if (!request.raw.complete && hasBody(request.headers)) {
      reply.header('connection', 'close');
      closing.add(request.raw.socket);
    }
    if (logging) request.log.info({ reason, keyId: record?.keyId }, 'request denied');
    return reply.send(errorBody(reason, opts.detail));
  }

  const closing = new WeakSet<object>();
  app.addHook('onRequest', (request, reply, done) => {
    const startedAt = performance.now();
    if (closing.has(request.raw.socket)) {
      (request as StatefulRequest)[STATE] = null;
      deny(request, reply, 'bad_request', undefined, { detail: CLOSING_DETAIL });
      return;
    }
    const result = precheck({
      synced: deps.records.synced,
      lookup: (keyId) => deps.records.get(keyId),
      headers: request.headers,
      method: request.method,
      url: request.url,
      peer: request.raw.socket.remoteAddress,
      trustedProxies: trusted,
      nowMs: clock(),
      passThroughRoutes,
    });
    const state: RequestState = {
      startedAt,
      record: result.record,
      endpoint: result.ok ? endpointLabel(result.endpoint) : '',
      path: result.ok ? result.endpoint : '',
      modelSource: result.ok ? result.modelSource : 'none',
      pathModel: result.ok ? result.pathModel : undefined,
      model: undefined,
      timing: undefined,
    };
    (request as StatefulRequest)[STATE] = state;
    // replying from a callback hook: done() must not be called
    if (!result.ok) {
      deny(request, reply, result.reason, result.record, result.detail === undefined ? {} : { detail: result.detail });
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

  async function proxy(
    request: FastifyRequest,
    reply: FastifyReply,
    state: RequestState,
    record: KeyRecord,
  ): Promise<void> {
    const framing = clientFraming(request.headers);
    if (framing === undefined) {
      deny(request, reply, 'bad_request', record, {
        detail: 'The request body framing (Content-Length / Transfer-Encoding) is invalid.',
      });
      return;
    }
    // `Expect: 100-continue`: the client sends its body only once every check that can go without it
    // passed — before reading a body that must be inspected, else after admission (docs/design.md §4)
    const awaitingContinue = framing.kind !== 'none' && expectsContinue(request.headers.expect);
    let body: Buffer | undefined;
    let json: Record<string, unknown> | undefined;
    let stripUsage = false;
    const inspect = mustInspect(record, state.modelSource, state.pathModel, framing);
    if (inspect) {
      if (awaitingContinue) reply.raw.writeContinue();
      const inspected = await inspectBody(request.raw, record, state.modelSource, state.pathModel, framing, bodyLimits);
      if (!inspected.ok) {
        deny(
          request,
          reply,
          inspected.reason,
          record,
          inspected.detail === undefined ? {} : { detail: inspected.detail },
        );
        return;
      }
      state.model = inspected.model;
      body = inspected.body;
      json = inspected.json;
      if (body !== undefined && json !== undefined && request.method === 'POST' && streamUsage) {
        const asked = requestStreamUsage(state.path, json, body);
        body = asked.body;
        stripUsage = asked.injected;
      }
    }
    // model routes reserve the output the client allows (else the default); the rest 1, as they cost
    const estimate =
      state.model !== undefined || state.modelSource !== 'none' ? reservationEstimate(json, defaultReservation) : 1;

    const now = clock();
    let admission: Awaited<ReturnType<Limiter['admit']>>;
    try {
      const pending = deps.limiter.admit(record.limitsKey, record, estimate, now);
      admission = pending instanceof Promise ? await pending : pending; // the memory limiter answers synchronously
    } catch (err) {
      request.log.error({ err: (err as Error).message }, 'limiter unavailable');
      deny(request, reply, 'limiter_unavailable', record);
      return;
    }
    if (!admission.ok) {
      const reason = admission.reason === 'rate_limit' ? 'rate_limited' : 'budget_exhausted';
      deny(
        request,
        reply,
        reason,
        record,
        admission.retryAfterS === undefined ? {} : { retryAfterS: admission.retryAfterS },
      );
      return;
    }

    // admitted: from here on the request counts
    if (awaitingContinue && !inspect) reply.raw.writeContinue();
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
      stripUsage,
      timing,
      onSettled: ({ status, reported, routerFailed, upstreamSeconds }) => {
        // docs/design.md §4 "Costs": what the router reported; else the reservation (a cut stream, a
        // client gone before the headers: the router may have done the work); a refusal by the router
        // itself 1; the gateway's own 502 nothing at all, and the request slot goes back
        const cost = routerFailed ? 0 : (reported ?? (status >= 400 ? 1 : reservation.amount));
        // the reply was hijacked, so onResponse (and fastify's completion log) do not run: do it here
        if (logging) {
          const responseTime = performance.now() - state.startedAt;
          request.log.info({ keyId: record.keyId, statusCode: status, cost, responseTime }, 'request completed');
        }
        metrics.request(record, state.model, state.endpoint, status);
        metrics.overhead((timing.dispatchedAt - state.startedAt + timing.afterHeadersMs) / 1000);
        if (upstreamSeconds !== undefined) metrics.upstream(upstreamSeconds);
        if (!routerFailed) {
          deps.usage.record(record.keyId, cost, now);
          metrics.keyUsed(record, now);
        }
        const outcome = { cost, refundRequest: routerFailed };
        Promise.resolve(deps.limiter.settle(record.limitsKey, record, reservation, outcome, clock())).catch(
          (err: unknown) => request.log.error({ err: (err as Error).message }, 'could not settle usage'),
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
