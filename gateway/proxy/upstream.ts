import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { framingHeaders, type Framing } from './framing.ts';

// One request to the upstream router over a keep-alive agent. A buffered body is written in one go;
// a streamed body is piped, so large uploads never sit in the gateway's memory. The returned abort()
// tears the upstream exchange down when the client goes away, so the router stops generating.
//
// Connection reuse is decided per exchange, by construction (docs/design.md §4, "Framing"): the agent
// keeps a socket only when the exchange on it was complete and clean — the body we framed was sent in
// full, the response was read to its end, nothing failed, and no stray byte is waiting on the socket.
// Anything else (an error, an abort, a client body cut short, a length mismatch) destroys the socket,
// so no leftover of one exchange can ever be read as part of the next.

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

interface ExchangeState {
  bodySent: boolean;
  failed: boolean;
  response: IncomingMessage | undefined;
}

const exchanges = new WeakMap<Socket, ExchangeState>();

function clean(socket: Socket): boolean {
  const s = exchanges.get(socket);
  exchanges.delete(socket);
  return s !== undefined && s.bodySent && !s.failed && s.response?.complete === true && socket.readableLength === 0;
}

export function createUpstream(url: URL, opts: { maxSockets?: number } = {}): Upstream {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`upstream must be http(s), got ${url.protocol}`);
  const transport = url.protocol === 'https:' ? https : http;
  // lifo: the most recently used sockets are reused first, so a quiet period lets the others idle out
  const agent = new transport.Agent({
    keepAlive: true,
    maxSockets: opts.maxSockets ?? 512,
    keepAliveMsecs: 10_000,
    scheduling: 'lifo',
  });
  const keep = agent.keepSocketAlive.bind(agent);
  // the documented hook: returning false makes the agent destroy the socket instead of pooling it
  agent.keepSocketAlive = (socket: Socket) => clean(socket) && keep(socket);
  const basePath = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { url, agent, transport, basePath, hostname, port: url.port || undefined };
}

export interface UpstreamExchange {
  response: Promise<IncomingMessage>;
  abort(): void;
}

/** What goes upstream after the headers. A streamed body is the client's, framed as `framing`. */
export type UpstreamBody =
  | { kind: 'none' }
  | { kind: 'buffer'; data: Buffer }
  | { kind: 'stream'; stream: IncomingMessage; framing: Framing };

export function sendUpstream(
  upstream: Upstream,
  method: string,
  pathAndQuery: string,
  headers: OutgoingHttpHeaders,
  body: UpstreamBody,
): UpstreamExchange {
  let framing: Framing = { kind: 'none' };
  if (body.kind === 'stream') framing = body.framing;
  else if (body.kind === 'buffer' && body.data.length > 0) framing = { kind: 'length', length: body.data.length };
  framingHeaders(framing, headers);
  const req = upstream.transport.request({
    protocol: upstream.url.protocol,
    hostname: upstream.hostname,
    port: upstream.port,
    method,
    path: upstream.basePath + pathAndQuery,
    headers,
    agent: upstream.agent,
  });
  const state: ExchangeState = { bodySent: false, failed: false, response: undefined };
  const fail = () => {
    state.failed = true;
    if (!req.destroyed) req.destroy();
  };
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', (res: IncomingMessage) => {
      state.response = res;
      // the socket's exchange, for keepSocketAlive (a response cut short is never `complete`)
      exchanges.set(res.socket, state);
      // an answer before our whole body was sent: the router may not have read all of it
      if (!state.bodySent) state.failed = true;
      resolve(res);
    });
    req.once('error', (err) => {
      state.failed = true;
      reject(err);
    });
  });
  if (body.kind === 'stream' && framing.kind !== 'none') pipeBody(body.stream, req, framing, state, fail);
  else {
    state.bodySent = true;
    if (body.kind === 'buffer' && body.data.length > 0) req.end(body.data);
    else req.end();
  }
  return { response, abort: fail };
}

/** The client's body, byte for byte; anything short of exactly the framed body fails the exchange. */
function pipeBody(
  stream: IncomingMessage,
  req: http.ClientRequest,
  framing: Framing,
  state: ExchangeState,
  fail: () => void,
): void {
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (framing.kind === 'length' && bytes > framing.length) return fail();
    if (!req.write(chunk)) stream.pause();
  });
  req.on('drain', () => stream.resume());
  stream.once('end', () => {
    // 'end' comes only after the whole framed body (an aborted client body is destroyed instead)
    if (framing.kind === 'length' && bytes !== framing.length) return fail();
    state.bodySent = true;
    req.end();
  });
  // the client went away (or its body broke) before the whole body arrived
  stream.once('close', () => {
    if (!state.bodySent) fail();
  });
  stream.once('error', fail);
}
