import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UPSTREAM_ERROR_BODY } from '../errors.ts';
import { isJsonContentType } from '../checks/model.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { sendUpstream, type Upstream } from './upstream.ts';
import { scanningStream, TotalTokensScanner } from './usage-scanner.ts';

// Forwards one admitted request and streams the answer back. Exactly once per request, when the
// client connection is done (finished or gone), `onSettled` reports the cost: the last usage
// total_tokens the response carried, else 1; 0 when the upstream could not be reached at all.

export interface ForwardTiming {
  /** performance.now() when the request was handed to the upstream. */
  dispatchedAt: number;
  /** Gateway time spent after the upstream answered (headers → reply handed to fastify). */
  afterHeadersMs: number;
}

export interface ForwardOptions {
  upstream: Upstream;
  authorization: string | undefined;
  /** The buffered body (already read for the model check), or undefined to stream the client's. */
  body: Buffer | undefined;
  timing: ForwardTiming;
  onSettled: (cost: number, upstreamSeconds: number | undefined) => void;
}

function hasStreamedBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

function scannable(res: IncomingMessage): boolean {
  const enc = res.headers['content-encoding'];
  if (enc !== undefined && enc !== 'identity') return false;
  const ct = res.headers['content-type'];
  return isJsonContentType(ct) || (ct !== undefined && ct.toLowerCase().startsWith('text/event-stream'));
}

export async function forward(request: FastifyRequest, reply: FastifyReply, opts: ForwardOptions): Promise<FastifyReply> {
  const raw = request.raw;
  const headers = upstreamRequestHeaders(request.headers, {
    host: opts.upstream.url.host,
    authorization: opts.authorization,
    bodyLength: opts.body?.length,
  });
  const body = opts.body ?? (hasStreamedBody(raw) ? raw : undefined);
  opts.timing.dispatchedAt = performance.now();
  const exchange = sendUpstream(opts.upstream, request.method, request.url, headers, body);

  let upstreamRes: IncomingMessage | undefined;
  let scanner: TotalTokensScanner | undefined;
  let upstreamEndedAt: number | undefined;
  let settled = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    if (upstreamRes === undefined || !upstreamRes.complete) exchange.abort();
    const upstreamSeconds =
      upstreamRes === undefined ? undefined : ((upstreamEndedAt ?? performance.now()) - opts.timing.dispatchedAt) / 1000;
    const cost = upstreamRes === undefined ? 0 : (scanner?.end() ?? 1);
    opts.onSettled(cost, upstreamSeconds);
  };
  reply.raw.once('close', settle);

  try {
    upstreamRes = await exchange.response;
  } catch (err) {
    if (reply.raw.destroyed) return reply; // the client left first; settle() already ran
    request.log.warn({ err: (err as Error).message }, 'upstream request failed');
    return reply
      .code(502)
      .header('content-type', 'application/json; charset=utf-8')
      .header('x-should-retry', 'true')
      .send(UPSTREAM_ERROR_BODY);
  }
  const headersAt = performance.now();
  const res = upstreamRes;
  res.once('end', () => {
    upstreamEndedAt = performance.now();
  });
  reply.code(res.statusCode ?? 502).headers(downstreamResponseHeaders(res.headers));

  const status = res.statusCode ?? 0;
  if (request.method === 'HEAD' || status === 204 || status === 304) {
    res.resume(); // no body may follow: drain so the keep-alive socket goes back to the pool
    opts.timing.afterHeadersMs = performance.now() - headersAt;
    return reply.send();
  }
  let payload: NodeJS.ReadableStream = res;
  if (scannable(res)) {
    scanner = new TotalTokensScanner();
    const tap = scanningStream(scanner);
    // pipeline: when fastify destroys the tap (client gone), the upstream response is destroyed too
    pipeline(res, tap, () => {});
    payload = tap;
  }
  opts.timing.afterHeadersMs = performance.now() - headersAt;
  return reply.send(payload);
}
