import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

// One request to the upstream router over a keep-alive agent. A buffered body is written in one go;
// a streamed body is piped, so large uploads never sit in the gateway's memory. The returned abort()
// tears the upstream exchange down when the client goes away, so the router stops generating.

export interface Upstream {
  readonly url: URL;
  readonly agent: http.Agent;
  readonly transport: typeof http | typeof https;
  /** The upstream's base path without trailing slash ('' for the root). */
  readonly basePath: string;
  /** url.hostname without IPv6 brackets, as node:http wants it. */
  readonly hostname: string;
  readonly port: string | undefined;
}

export function createUpstream(url: URL, opts: { maxSockets?: number } = {}): Upstream {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`upstream must be http(s), got ${url.protocol}`);
  const transport = url.protocol === 'https:' ? https : http;
  // lifo: the most recently used sockets are reused first, so a quiet period lets the others idle out
  const agent = new transport.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 512, keepAliveMsecs: 10_000, scheduling: 'lifo' });
  const basePath = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { url, agent, transport, basePath, hostname, port: url.port || undefined };
}

export interface UpstreamExchange {
  response: Promise<IncomingMessage>;
  abort(): void;
}

export function sendUpstream(
  upstream: Upstream,
  method: string,
  pathAndQuery: string,
  headers: OutgoingHttpHeaders,
  body: Buffer | Readable | undefined,
): UpstreamExchange {
  const req = upstream.transport.request({
    protocol: upstream.url.protocol,
    hostname: upstream.hostname,
    port: upstream.port,
    method,
    path: upstream.basePath + pathAndQuery,
    headers,
    agent: upstream.agent,
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  if (body === undefined) req.end();
  else if (Buffer.isBuffer(body)) req.end(body);
  else {
    body.pipe(req);
    body.once('error', (err) => req.destroy(err));
  }
  return {
    response,
    abort: () => {
      if (!req.destroyed) req.destroy();
    },
  };
}
