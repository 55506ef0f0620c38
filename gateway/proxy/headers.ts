import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// Which headers cross the gateway. Hop-by-hop headers (RFC 9110 §7.6.1, plus those named in
// Connection) belong to one connection and are dropped both ways. The client's API key never goes
// upstream: the router behind gets its own credential, if one is configured. Framing headers
// (Content-Length, Transfer-Encoding) are never copied: the gateway frames every body itself
// (framing.ts). Forwarding headers are handled as a standard reverse proxy does: the peer is appended
// to X-Forwarded-For; a peer that is not a trusted proxy cannot send any forwarding header of its own.

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
const NEVER_FORWARDED = new Set([
  'authorization',
  'x-api-key',
  'api-key',
  'expect',
  'host',
  'content-length',
  'accept-encoding',
]);

/** What an untrusted client could use to pose as someone else behind us. */
const FORWARDING = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
]);

function connectionTokens(headers: IncomingHttpHeaders): Set<string> | undefined {
  const c = headers.connection;
  if (c === undefined) return undefined;
  return new Set(c.split(',').map((t) => t.trim().toLowerCase()));
}

export interface UpstreamHeaderOptions {
  host: string;
  /** Value for `authorization` towards the router, if it wants one. */
  authorization?: string | undefined;
  /** The socket peer's address, appended to X-Forwarded-For. */
  peer?: string | undefined;
  /** The peer is a trusted proxy: its forwarding headers are kept (and the peer appended). */
  peerTrusted?: boolean;
}

export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  opts: UpstreamHeaderOptions,
): OutgoingHttpHeaders {
  const extra = connectionTokens(incoming);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || NEVER_FORWARDED.has(name) || extra?.has(name)) continue;
    if (!opts.peerTrusted && FORWARDING.has(name)) continue;
    const v = incoming[name];
    if (v !== undefined) out[name] = v;
  }
  out.host = opts.host;
  if (opts.authorization !== undefined) out.authorization = opts.authorization;
  if (opts.peer !== undefined) {
    const before = out['x-forwarded-for'];
    const chain = Array.isArray(before) ? before.join(', ') : before;
    out['x-forwarded-for'] = chain === undefined || chain === '' ? opts.peer : `${chain}, ${opts.peer}`;
  }
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
