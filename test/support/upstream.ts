import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A real OpenAI-compatible upstream on port 0 for gateway tests. It records exactly what reached it
// (raw body bytes and headers) and echoes them back, so tests can assert that the gateway passes
// requests through unchanged and strips what it must. Streams can be held open between chunks
// (`holdStreams`) to prove the gateway forwards SSE chunks as they come instead of buffering.

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface TestUpstream {
  url: URL;
  /** Every request received, in order. */
  seen: SeenRequest[];
  /** usage.total_tokens reported by chat/embeddings responses (default 7). */
  totalTokens: number;
  /** When true, SSE streams pause after their first chunk until release() is called. */
  holdStreams: boolean;
  /** SSE responses whose connection closed before the stream was finished (client went away). */
  abortedStreams: number;
  release(): void;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-upstream': 'test',
  });
  res.end(text);
}

function parse(body: Buffer): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function startUpstream(): Promise<TestUpstream> {
  let releaseWaiters: (() => void)[] = [];
  const state: TestUpstream = {
    url: new URL('http://127.0.0.1'),
    seen: [],
    totalTokens: 7,
    holdStreams: false,
    abortedStreams: 0,
    release() {
      const w = releaseWaiters;
      releaseWaiters = [];
      for (const f of w) f();
    },
    close: async () => {},
  };
  const usage = () => ({ prompt_tokens: 3, completion_tokens: state.totalTokens - 3, total_tokens: state.totalTokens });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      state.seen.push(seen);
      const path = (req.url ?? '').split('?')[0]!.replace(/^\/v1/, '');
      const echo = { method: seen.method, url: seen.url, headers: seen.headers, body: body.toString('utf8') };
      const payload = parse(body);
      const model = typeof payload.model === 'string' ? payload.model : 'unknown';

      if (req.method === 'POST' && path === '/chat/completions') {
        const content = `echo: ${body.length} bytes`;
        if (payload.stream === true) {
          res.once('close', () => {
            if (!res.writableFinished) state.abortedStreams++;
          });
          void streamChat(
            res,
            model,
            content,
            usage(),
            state.holdStreams ? () => new Promise<void>((r) => releaseWaiters.push(r)) : undefined,
          );
          return;
        }
        return json(res, 200, {
          id: 'chatcmpl-test',
          object: 'chat.completion',
          created: 1,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: usage(),
          nemokeys_echo: echo,
        });
      }
      if (req.method === 'POST' && path === '/embeddings') {
        return json(res, 200, {
          object: 'list',
          model,
          data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }],
          usage: { prompt_tokens: state.totalTokens, total_tokens: state.totalTokens },
          nemokeys_echo: echo,
        });
      }
      if (req.method === 'POST' && path === '/images/generations') {
        // no usage on purpose: such a request costs 1 credit
        return json(res, 200, { created: 1, data: [{ b64_json: 'iVBORw0KGgo=' }], nemokeys_echo: echo });
      }
      if (req.method === 'GET' && path === '/models') {
        return json(res, 200, {
          object: 'list',
          data: [{ id: 'gpt-4o-mini', object: 'model', created: 1, owned_by: 'test' }],
        });
      }
      return json(res, 200, { nemokeys_echo: echo });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.url = new URL(`http://127.0.0.1:${port}`);
  state.close = () =>
    new Promise<void>((resolve) => {
      state.release();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

async function streamChat(
  res: ServerResponse,
  model: string,
  content: string,
  usage: Record<string, number>,
  hold: (() => Promise<void>) | undefined,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  res.write(chunk({ role: 'assistant', content: '' }, null));
  if (hold) await hold();
  for (const word of content.split(' ')) res.write(chunk({ content: `${word} ` }, null));
  res.write(chunk({}, 'stop'));
  res.write(
    `data: ${JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1, model, choices: [], usage })}\n\n`,
  );
  res.end('data: [DONE]\n\n');
}
