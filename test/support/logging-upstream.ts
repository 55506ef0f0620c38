import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// The router's side of the hostile-input suite: a real HTTP server on a port that LOGS every request
// it parses — complete ones in `log`, bodies cut short in `aborted`, bytes it could not parse in
// `parseErrors` — and every raw byte it received. A test compares `log` with the requests the gateway
// admitted: anything more (a smuggled request, a body glued to the next request) shows up here.
// Answers are small JSON bodies with usage, except `stream: true` chat completions, which get an SSE
// stream (with a usage-only final chunk when `stream_options.include_usage` is set, as OpenAI does).

export interface LoggedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Which upstream connection carried it (connections are numbered from 1). */
  connection: number;
}

export interface LoggingUpstream {
  url: URL;
  log: LoggedRequest[];
  aborted: { method: string; url: string }[];
  /** Connections closed in the middle of a request (the gateway cut an exchange off). */
  cutShort: number;
  parseErrors: string[];
  /** Everything received, per connection. */
  bytes: Map<number, Buffer[]>;
  /** usage.total_tokens of every answer (default 7); completion tokens are total − 3. */
  totalTokens: number;
  /** Stream chunks of content before the final one (default 3). */
  streamChunks: number;
  /** Milliseconds between stream chunks (default 0). */
  streamDelayMs: number;
  /** Milliseconds before the response headers of a completion (default 0). */
  headerDelayMs: number;
  close(): Promise<void>;
}

export async function startLoggingUpstream(): Promise<LoggingUpstream> {
  const up: LoggingUpstream = {
    url: new URL('http://127.0.0.1'),
    log: [],
    aborted: [],
    cutShort: 0,
    parseErrors: [],
    bytes: new Map(),
    totalTokens: 7,
    streamChunks: 3,
    streamDelayMs: 0,
    headerDelayMs: 0,
    close: async () => {},
  };
  let connections = 0;
  const ids = new WeakMap<Socket, number>();
  const server: Server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const connection = ids.get(req.socket) ?? 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('aborted', () => up.aborted.push({ method: req.method ?? '', url: req.url ?? '' }));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('latin1');
      up.log.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, connection });
      void answer(up, req.method ?? '', req.url ?? '', body, res);
    });
  });
  server.on('connection', (socket: Socket) => {
    const id = ++connections;
    ids.set(socket, id);
    const bytes: Buffer[] = [];
    up.bytes.set(id, bytes);
    socket.on('data', (c: Buffer) => bytes.push(c));
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'HPE_INVALID_EOF_STATE') up.cutShort++;
    else up.parseErrors.push(err.code ?? err.message);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  up.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return up;
}

function parseJson(body: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

async function answer(
  up: LoggingUpstream,
  method: string,
  url: string,
  body: string,
  res: ServerResponse,
): Promise<void> {
  const usage = { prompt_tokens: 3, completion_tokens: up.totalTokens - 3, total_tokens: up.totalTokens };
  const payload = parseJson(body);
  const model = typeof payload.model === 'string' ? payload.model : 'none';
  const path = url.split('?')[0]!;
  if (up.headerDelayMs > 0 && path.endsWith('/completions')) await new Promise((r) => setTimeout(r, up.headerDelayMs));
  if (res.destroyed) return;
  if (method === 'POST' && path.endsWith('/chat/completions') && payload.stream === true) {
    const includeUsage = (payload.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'x-upstream': 'log' });
    const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model };
    for (let i = 0; i < up.streamChunks; i++) {
      const finish = i === up.streamChunks - 1 ? 'stop' : null;
      const chunk = { ...base, choices: [{ index: 0, delta: { content: `w${i} ` }, finish_reason: finish }] };
      if (includeUsage) Object.assign(chunk, { usage: null });
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      if (up.streamDelayMs > 0) await new Promise((r) => setTimeout(r, up.streamDelayMs));
    }
    if (includeUsage) res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
    return;
  }
  const text = JSON.stringify({
    id: 'x-1',
    object: path.endsWith('/chat/completions') ? 'chat.completion' : 'result',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage,
  });
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-upstream': 'log',
  });
  res.end(method === 'HEAD' ? undefined : text);
}
