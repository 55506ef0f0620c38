import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// Which headers cross the gateway. Hop-by-hop headers (RFC 9110 §7.6.1, plus those named in
// Connection) belong to one connection and are dropped both ways. The client's API key never goes
// upstream: the router behind gets its own credential, if one is configured.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Client credentials (ours), and `expect` (node answers 100-continue itself). */
const NEVER_FORWARDED = new Set(['authorization', 'x-api-key', 'api-key', 'expect', 'host', 'content-length', 'accept-encoding']);

function connectionTokens(headers: IncomingHttpHeaders): Set<string> | undefined {
  const c = headers.connection;
  if (c === undefined) return undefined;
  return new Set(c.split(',').map((t) => t.trim().toLowerCase()));
}

export interface UpstreamHeaderOptions {
  host: string;
  /** Value for `authorization` towards the router, if it wants one. */
  authorization?: string | undefined;
  /** Exact length of a buffered body; undefined keeps the client's framing for a streamed body. */
  bodyLength?: number | undefined;
}

export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, opts: UpstreamHeaderOptions): OutgoingHttpHeaders {
  const extra = connectionTokens(incoming);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || NEVER_FORWARDED.has(name) || extra?.has(name)) continue;
    const v = incoming[name];
    if (v !== undefined) out[name] = v;
  }
  out.host = opts.host;
  if (opts.authorization !== undefined) out.authorization = opts.authorization;
  if (opts.bodyLength !== undefined) out['content-length'] = String(opts.bodyLength);
  else if (incoming['content-length'] !== undefined) out['content-length'] = incoming['content-length'];
  // Uncompressed responses, so the usage a response reports can be read while it streams: a client
  // asking for gzip must not be able to hide its token count and pay 1 credit per request.
  out['accept-encoding'] = 'identity';
  return out;
}

export function downstreamResponseHeaders(upstream: IncomingHttpHeaders): Record<string, string | string[]> {
  const extra = connectionTokens(upstream);
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    if (HOP_BY_HOP.has(name) || extra?.has(name)) continue;
    const v = upstream[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
