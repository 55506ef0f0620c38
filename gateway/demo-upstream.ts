import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

// A tiny OpenAI-compatible upstream for `nemokeys dev`, demos and tests: chat completions (plain and
// SSE), embeddings, image generations and the model list, at `/v1/...` and without the prefix.
// Deterministic on purpose — the reply echoes the last user message and token counts are word counts —
// so tests can predict `usage.total_tokens` (what a request costs in credits). Streams always end
// with a usage chunk (like `stream_options.include_usage`), so streamed requests are billed too.

export const DEMO_MODELS = ['gpt-4o-mini', 'gpt-4o', 'gemini-2.5-pro', 'text-embedding-3-small', 'dall-e-3'];
const EMBEDDING_DIMENSIONS = 8;
const MAX_BODY_BYTES = 1 << 20;
// 1×1 transparent PNG.
const TINY_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

export type SeenRequest = { method: string; path: string; headers: IncomingHttpHeaders; body: unknown };

export interface DemoUpstreamOptions {
  host?: string;
  port?: number;
  /** Called for every request (tests assert what the gateway forwarded). */
  onRequest?: (req: SeenRequest) => void;
}

export interface DemoUpstream {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export const countTokens = (text: string): number => text.split(/\s+/).filter(Boolean).length;

type ChatMessage = { role?: unknown; content?: unknown };

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p: { type?: unknown; text?: unknown }) => (p?.type === 'text' && typeof p.text === 'string' ? p.text : ''))
      .join(' ');
  }
  return '';
}

/** The reply and its usage for a chat request: pure, so tests can compute expected credits. */
export function demoChatReply(body: { messages?: ChatMessage[]; max_tokens?: number }): {
  reply: string;
  promptTokens: number;
  completionTokens: number;
} {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const promptTokens = messages.reduce((n, m) => n + countTokens(textOf(m.content)), 0);
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  let words = `You said: ${textOf(lastUser?.content).trim() || '(nothing)'}`.split(/\s+/).filter(Boolean);
  if (typeof body.max_tokens === 'number' && body.max_tokens > 0) words = words.slice(0, body.max_tokens);
  return { reply: words.join(' '), promptTokens, completionTokens: words.length };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const error = (res: ServerResponse, status: number, message: string, code: string) =>
  send(res, status, { error: { message, type: 'invalid_request_error', code } });

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

let nextId = 1;
const id = (prefix: string) => `${prefix}-demo${nextId++}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);

function chat(res: ServerResponse, body: Record<string, unknown>): void {
  const model = typeof body.model === 'string' ? body.model : 'gpt-4o-mini';
  const { reply, promptTokens, completionTokens } = demoChatReply(body);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  const base = { id: id('chatcmpl'), created: nowSeconds(), model };
  if (body.stream !== true) {
    send(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }],
      usage,
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const event = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  const chunk = (delta: object, finish: string | null) =>
    event({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
  chunk({ role: 'assistant', content: '' }, null);
  for (const [i, word] of reply.split(' ').entries()) chunk({ content: i === 0 ? word : ` ${word}` }, null);
  chunk({}, 'stop');
  event({ ...base, object: 'chat.completion.chunk', choices: [], usage });
  res.end('data: [DONE]\n\n');
}

function embeddings(res: ServerResponse, body: Record<string, unknown>): void {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const texts = inputs.map((i) => (typeof i === 'string' ? i : JSON.stringify(i ?? '')));
  const tokens = texts.reduce((n, t) => n + countTokens(t), 0);
  send(res, 200, {
    object: 'list',
    model: typeof body.model === 'string' ? body.model : 'text-embedding-3-small',
    data: texts.map((t, index) => {
      // Deterministic pseudo-vector from the text's char codes.
      const vector = Array.from(
        { length: EMBEDDING_DIMENSIONS },
        (_, d) => ((t.charCodeAt(d % Math.max(1, t.length)) || 0) % 97) / 97,
      );
      // The openai SDK asks for base64 (little-endian float32) by default.
      const embedding =
        body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    }),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

function images(res: ServerResponse, body: Record<string, unknown>): void {
  const n = typeof body.n === 'number' && body.n > 0 ? Math.min(body.n, 4) : 1;
  // No usage: the gateway charges 1 credit per request when the upstream reports none.
  send(res, 200, {
    created: nowSeconds(),
    data: Array.from({ length: n }, () => ({ b64_json: TINY_PNG, revised_prompt: body.prompt })),
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, onRequest?: (r: SeenRequest) => void): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!.replace(/^\/v1(?=\/)/, '');
  const method = req.method ?? 'GET';
  let body: unknown = {};
  if (method === 'POST') {
    try {
      body = await readJson(req);
    } catch (err) {
      onRequest?.({ method, path, headers: req.headers, body: undefined });
      return error(res, 400, `invalid JSON body: ${(err as Error).message}`, 'invalid_json');
    }
  }
  onRequest?.({ method, path, headers: req.headers, body });
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  if (method === 'GET' && path === '/models') {
    return send(res, 200, {
      object: 'list',
      data: DEMO_MODELS.map((m) => ({ id: m, object: 'model', created: 0, owned_by: 'nemokeys-demo' })),
    });
  }
  if (method === 'GET' && path.startsWith('/models/')) {
    const m = decodeURIComponent(path.slice('/models/'.length));
    if (!DEMO_MODELS.includes(m)) return error(res, 404, `model ${m} does not exist`, 'model_not_found');
    return send(res, 200, { id: m, object: 'model', created: 0, owned_by: 'nemokeys-demo' });
  }
  if (method === 'POST' && path === '/chat/completions') return chat(res, b);
  if (method === 'POST' && path === '/embeddings') return embeddings(res, b);
  if (method === 'POST' && path === '/images/generations') return images(res, b);
  if (method === 'GET' && (path === '/healthz' || path === '/')) return send(res, 200, { ok: true });
  return error(res, 404, `${method} ${path} is not served by the demo upstream`, 'not_found');
}

export function createDemoUpstreamServer(opts: Pick<DemoUpstreamOptions, 'onRequest'> = {}): Server {
  return createServer((req, res) => {
    handle(req, res, opts.onRequest).catch((err: unknown) => {
      if (!res.headersSent) error(res, 500, (err as Error).message, 'internal_error');
      else res.destroy();
    });
  });
}

export async function startDemoUpstream(opts: DemoUpstreamOptions = {}): Promise<DemoUpstream> {
  const server = createDemoUpstreamServer(opts);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
