import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UPSTREAM_ERROR_BODY } from '../errors.ts';
import { isJsonContentType } from '../checks/model.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import type { Framing } from './framing.ts';
import { sendUpstream, type Upstream, type UpstreamBody } from './upstream.ts';
import { UsageChunkStripper } from './stream-usage.ts';
import { TotalTokensScanner } from './usage-scanner.ts';

// Forwards one admitted request and streams the answer back. The reply is hijacked: the upstream
// response is piped straight into the socket's response (what a plain node:http proxy does), which
// skips fastify's stream bookkeeping on the hot path. Exactly once per request, when the client
// connection is done (finished or gone), `onSettled` reports the outcome: the HTTP status sent, the
// usage the router reported (the last usage total_tokens the response carried), and whether the
// router failed to answer at all (the gateway's own 502). What that costs is the caller's decision.

export interface ForwardTiming {
  /** performance.now() when the request was handed to the upstream. */
  dispatchedAt: number;
  /** Gateway time spent after the upstream answered (headers → response handed to the socket). */
  afterHeadersMs: number;
}

export interface Settlement {
  status: number;
  /** usage total_tokens the router reported; undefined when it reported none (or the stream was cut first). */
  reported: number | undefined;
  /** The router could not be reached or failed before answering: the 502 is the gateway's own. */
  routerFailed: boolean;
  /** Dispatch → end of the upstream response; undefined when it never answered. */
  upstreamSeconds: number | undefined;
}

export interface ForwardOptions {
  upstream: Upstream;
  authorization: string | undefined;
  /** The buffered body (already read for the model check), or undefined to stream the client's. */
  body: Buffer | undefined;
  /** The client's body framing as node parsed it (clientFraming). */
  framing: Framing;
  /** The socket peer, appended to X-Forwarded-For, and whether it is a trusted proxy. */
  peer: string | undefined;
  peerTrusted: boolean;
  /** We asked for stream usage the client did not: take the usage chunk out of its stream. */
  stripUsage: boolean;
  timing: ForwardTiming;
  onSettled: (s: Settlement) => void;
}

function scannable(res: IncomingMessage): boolean {
  const enc = res.headers['content-encoding'];
  if (enc !== undefined && enc !== 'identity') return false;
  const ct = res.headers['content-type'];
  return isJsonContentType(ct) || (ct !== undefined && ct.toLowerCase().startsWith('text/event-stream'));
}

export async function forward(request: FastifyRequest, reply: FastifyReply, opts: ForwardOptions): Promise<void> {
  const raw = request.raw;
  const out = reply.raw;
  reply.hijack();
  const headers = upstreamRequestHeaders(request.headers, {
    host: opts.upstream.url.host,
    authorization: opts.authorization,
    peer: opts.peer,
    peerTrusted: opts.peerTrusted,
  });
  const body: UpstreamBody =
    opts.body !== undefined
      ? { kind: 'buffer', data: opts.body }
      : opts.framing.kind === 'none'
        ? { kind: 'none' }
        : { kind: 'stream', stream: raw, framing: opts.framing };
  opts.timing.dispatchedAt = performance.now();
  const badGateway = () => {
    out.writeHead(502, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(UPSTREAM_ERROR_BODY),
      'x-should-retry': 'true',
    });
    out.end(UPSTREAM_ERROR_BODY);
  };
  let exchange: ReturnType<typeof sendUpstream>;
  try {
    exchange = sendUpstream(opts.upstream, request.method, request.url, headers, body);
  } catch (err) {
    // e.g. an upstreamAuthorization node refuses as a header value: the reply is hijacked, so answer here
    request.log.error({ err: (err as Error).message }, 'cannot build the upstream request');
    out.once('close', () =>
      opts.onSettled({ status: out.statusCode, reported: undefined, routerFailed: true, upstreamSeconds: undefined }),
    );
    badGateway();
    return;
  }

  let upstreamRes: IncomingMessage | undefined;
  let scanner: TotalTokensScanner | undefined;
  let upstreamEndedAt: number | undefined;
  let settled = false;
  let routerFailed = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    if (upstreamRes === undefined || !upstreamRes.complete) exchange.abort();
    opts.onSettled({
      status: out.statusCode,
      reported: scanner?.end(),
      routerFailed,
      upstreamSeconds:
        upstreamRes === undefined
          ? undefined
          : ((upstreamEndedAt ?? performance.now()) - opts.timing.dispatchedAt) / 1000,
    });
  };
  out.on('close', settle);

  try {
    upstreamRes = await exchange.response;
  } catch (err) {
    if (out.destroyed || out.headersSent) return; // the client left first; settle() already ran
    request.log.warn({ err: (err as Error).message }, 'upstream request failed');
    routerFailed = true;
    badGateway();
    return;
  }
  const headersAt = performance.now();
  const res = upstreamRes;
  if (out.destroyed) {
    res.destroy();
    return;
  }
  out.writeHead(res.statusCode ?? 502, downstreamResponseHeaders(res.headers));
  const status = res.statusCode ?? 0;
  if (request.method === 'HEAD' || status === 204 || status === 304) {
    res.on('end', () => {
      upstreamEndedAt = performance.now();
    });
    res.resume(); // no body may follow: drain so the keep-alive socket goes back to the pool
    out.end();
  } else {
    const scan = scannable(res);
    if (scan) scanner = new TotalTokensScanner();
    const stripper = opts.stripUsage && scan && status < 300 ? new UsageChunkStripper() : undefined;
    relay(res, out, scanner, stripper, () => {
      upstreamEndedAt = performance.now();
    });
  }
  opts.timing.afterHeadersMs = performance.now() - headersAt;
}

/**
 * What res.pipe(out) does for a proxy, with the scanner in the same 'data' listener: pipe() adds and
 * later removes seven listeners per response, a measurable share of a small proxied request.
 * Backpressure: pause the upstream while the client's socket is full. If the client goes away,
 * out's 'close' settles the request, which aborts the upstream exchange (ending the data).
 */
function relay(
  res: IncomingMessage,
  out: FastifyReply['raw'],
  scanner: TotalTokensScanner | undefined,
  stripper: UsageChunkStripper | undefined,
  onEnd: () => void,
): void {
  res.on('data', (chunk: Buffer) => {
    scanner?.push(chunk);
    const forward = stripper === undefined ? chunk : stripper.push(chunk);
    if (forward.length > 0 && !out.write(forward)) res.pause();
  });
  out.on('drain', () => res.resume());
  res.on('end', () => {
    onEnd();
    if (stripper !== undefined) out.end(stripper.end());
    else out.end();
  });
  // an upstream failure mid-body cannot be reported any more: cut the client off so it notices
  const cut = () => out.destroy();
  res.on('error', cut);
  res.on('aborted', cut);
}
