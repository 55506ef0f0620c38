import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import OpenAI, { toFile } from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../gateway/app.ts';
import { MemoryLimiter } from '../gateway/limits/memory.ts';
import { RecordStore } from '../gateway/records/store.ts';
import { UsageTracker } from '../gateway/usage/tracker.ts';
import { startLoggingUpstream, type LoggingUpstream } from './support/logging-upstream.ts';
import { makeKeyAndRecord } from '../gateway/sources/testing.ts';
import { parseResponses, rawExchange, rawSession, type Piece } from './support/raw-http.ts';

// Hostile input against the gateway, attacked with raw sockets. The router behind is a LOGGING
// upstream that records every request it parses. The claim each case checks (docs/design.md §4,
// "Framing"): the router's log equals the list of requests the gateway admitted — nothing more,
// nothing else — whatever the client does with Content-Length, Transfer-Encoding, pipelining, partial
// bodies, aborts or slow bodies, on every method. Every log line at trace level is captured and must
// not contain a key.

const ROUTER_CREDENTIAL = 'Bearer router-secret-credential';
let upstream: LoggingUpstream;
let app: ReturnType<typeof buildApp>;
let port: number;
const records = new RecordStore();
const logLines: string[] = [];
const narrow = makeKeyAndRecord({
  scopes: { models: ['gpt-4o-mini'], endpoints: ['/chat/completions', '/models', '/files'] },
});
const wide = makeKeyAndRecord({ scopes: { models: ['*'] } });
const scoped = makeKeyAndRecord({ scopes: { models: ['gpt-4o-mini', 'whisper-1'] } });
const keys = [narrow.key, wide.key, scoped.key];

beforeAll(async () => {
  upstream = await startLoggingUpstream();
  records.replaceAll([narrow.record, wide.record, scoped.record]);
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString('utf8'));
      cb();
    },
  });
  app = buildApp({
    records,
    usage: new UsageTracker(),
    upstream: upstream.url,
    limiter: new MemoryLimiter(),
    maxBodyBytes: 64 * 1024,
    upstreamAuthorization: ROUTER_CREDENTIAL,
    logger: pino({ level: 'trace' }, sink),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app?.close();
  await upstream?.close();
  // the whole suite ran with trace logging: no line may carry a key (or its secret part)
  expect(logLines.length).toBeGreaterThan(0);
  for (const k of keys) {
    const secret = k.slice(k.lastIndexOf('_') + 1);
    for (const line of logLines) expect(line).not.toContain(secret);
  }
});
beforeEach(() => {
  upstream.log.length = 0;
  upstream.aborted.length = 0;
  upstream.parseErrors.length = 0;
});

interface Sent {
  method: string;
  url: string;
  body: string;
}
const SMUGGLED = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"model":"gpt-4o"}`;
const auth = (key: string) => `Authorization: Bearer ${key}\r\n`;
const head = (method: string, url: string, headers: string) => `${method} ${url} HTTP/1.1\r\nHost: gw\r\n${headers}`;
const chunked = (body: string, split = 7) => {
  let out = '';
  for (let i = 0; i < body.length; i += split) {
    const part = body.slice(i, i + split);
    out += `${Buffer.byteLength(part, 'latin1').toString(16)}\r\n${part}\r\n`;
  }
  return `${out}0\r\n\r\n`;
};
const withLength = (body: string) => `Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n`;

/**
 * Waits until nothing is in flight any more, then returns what the router logged, in a canonical
 * order: pipelined requests are forwarded concurrently (over several upstream connections), so the
 * router may see them in another order than they were sent, though each client gets its answers in order.
 */
async function routerLog(): Promise<Sent[]> {
  await new Promise((r) => setTimeout(r, 150));
  return canonical(upstream.log.map((l) => ({ method: l.method, url: l.url, body: l.body })));
}
const canonical = (list: Sent[]) => [...list].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

function noLeak() {
  expect(upstream.parseErrors).toEqual([]);
  for (const l of upstream.log) {
    expect(l.headers.authorization).toBe(ROUTER_CREDENTIAL);
    expect(l.body).not.toContain(ROUTER_CREDENTIAL);
    for (const k of keys) expect(JSON.stringify(l)).not.toContain(k.slice(k.lastIndexOf('_') + 1));
  }
}

const METHODS = ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'POST', 'PUT', 'PATCH'] as const;

describe('request smuggling: every forwarded body is framed, whatever the method', () => {
  it.each(METHODS.flatMap((m) => [[m, 'chunked'] as const, [m, 'content-length'] as const]))(
    '%s with a %s body holding a complete second request reaches the router as ONE request',
    async (method, framing) => {
      const url = '/v1/files/file-abc';
      const body = SMUGGLED;
      const request =
        head(
          method,
          url,
          auth(wide.key) +
            (framing === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : withLength(body)) +
            'Connection: close\r\n',
        ) +
        '\r\n' +
        (framing === 'chunked' ? chunked(body) : body);
      const responses = parseResponses(await rawExchange(port, [request]), [method]);
      expect(responses.map((r) => r.status)).toEqual([200]);
      expect(await routerLog()).toEqual([{ method, url, body }]);
      noLeak();
    },
  );

  it('the attack from the issue: a narrow key cannot reach gpt-4o through a GET /v1/models body', async () => {
    const request =
      head('GET', '/v1/models', `${auth(narrow.key)}Transfer-Encoding: chunked\r\nConnection: close\r\n`) +
      '\r\n' +
      chunked(SMUGGLED);
    const responses = parseResponses(await rawExchange(port, [request]));
    // a model-scoped key's body is read whatever the route: this one is no JSON object with a model
    expect(responses.map((r) => r.status)).toEqual([400]);
    expect(await routerLog()).toEqual([]);
    noLeak();
  });

  it.each([
    [
      'Content-Length and Transfer-Encoding together',
      'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n',
      '0\r\n\r\n',
    ],
    ['Transfer-Encoding not ending in chunked', 'Transfer-Encoding: gzip\r\n', 'abcd'],
    ['Transfer-Encoding: chunked, identity', 'Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n'],
    ['two Content-Length values', 'Content-Length: 4\r\nContent-Length: 40\r\n', 'abcd'],
    ['a Content-Length list', 'Content-Length: 4, 4\r\n', 'abcd'],
    ['a negative Content-Length', 'Content-Length: -1\r\n', ''],
    ['a bad chunk size', 'Transfer-Encoding: chunked\r\n', 'zz\r\nabcd\r\n0\r\n\r\n'],
    ['a chunk longer than its size', 'Transfer-Encoding: chunked\r\n', '2\r\nabcd\r\n0\r\n\r\n'],
    ['Transfer-Encoding with a space before the colon', 'Transfer-Encoding : chunked\r\n', '0\r\n\r\n'],
    ['a bare LF line ending in the chunks', 'Transfer-Encoding: chunked\r\n', '4\nabcd\n0\n\n'],
  ])('%s: refused or framed, never passed on ambiguously', async (_name, headers, body) => {
    const method = 'POST';
    const request = `${head(method, '/v1/files', `${auth(wide.key) + headers}Connection: close\r\n`)}\r\n${body}${SMUGGLED}`;
    const responses = parseResponses(await rawExchange(port, [request]));
    const log = await routerLog();
    // every admitted request is one the router logged; nothing smuggled appears
    expect(log.length).toBe(responses.filter((r) => r.headers['x-upstream'] === 'log').length);
    expect(log.every((l) => l.url === '/v1/files')).toBe(true);
    expect(responses[0]?.status ?? 400).toBeGreaterThanOrEqual(400);
    noLeak();
  });

  it('a GET whose Content-Length promises more than it sends cannot capture the next client request', async () => {
    const trap =
      head('GET', '/v1/models', `${auth(wide.key)}Content-Length: 400\r\n`) +
      '\r\n' +
      'POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n';
    const attacker = rawExchange(port, [trap, { closeAfterMs: 400 }]);
    await new Promise((r) => setTimeout(r, 100));
    const victimBody = '{"model":"gpt-4o-mini","messages":[]}';
    const victim =
      head(
        'POST',
        '/v1/chat/completions',
        `${auth(narrow.key)}Content-Type: application/json\r\n${withLength(victimBody)}Connection: close\r\n`,
      ) +
      '\r\n' +
      victimBody;
    const v = parseResponses(await rawExchange(port, [victim]));
    expect(v.map((r) => r.status)).toEqual([200]);
    expect(JSON.parse(v[0]!.body)).toMatchObject({ object: 'chat.completion' });
    await attacker;
    expect(await routerLog()).toEqual([{ method: 'POST', url: '/v1/chat/completions', body: victimBody }]);
    noLeak();
  });
});

describe('pipelining, partial, aborted and slow bodies', () => {
  const chat = (key: string, model: string, last = false) => {
    const body = `{"model":"${model}","messages":[]}`;
    return {
      sent: { method: 'POST', url: '/v1/chat/completions', body },
      text:
        head(
          'POST',
          '/v1/chat/completions',
          `${auth(key)}Content-Type: application/json\r\n${withLength(body)}${last ? 'Connection: close\r\n' : ''}`,
        ) +
        '\r\n' +
        body,
    };
  };

  it('three pipelined requests in one write, the middle one denied: the router sees the other two, in order', async () => {
    const a = chat(narrow.key, 'gpt-4o-mini');
    const b = chat(narrow.key, 'gpt-4o');
    const c = chat(narrow.key, 'gpt-4o-mini', true);
    const responses = parseResponses(await rawExchange(port, [a.text + b.text + c.text]));
    expect(responses.map((r) => r.status)).toEqual([200, 403, 200]);
    expect(await routerLog()).toEqual(canonical([a.sent, c.sent]));
    noLeak();
  });

  it('pipelined streamed bodies on every method keep their boundaries', async () => {
    const parts = METHODS.map((m, i) => {
      const body = `body-${i}-${SMUGGLED}`;
      const last = i === METHODS.length - 1;
      const framing = i % 2 === 0 ? 'Transfer-Encoding: chunked\r\n' : withLength(body);
      return {
        sent: { method: m, url: `/v1/files/f${i}`, body },
        text:
          head(m, `/v1/files/f${i}`, auth(wide.key) + framing + (last ? 'Connection: close\r\n' : '')) +
          '\r\n' +
          (i % 2 === 0 ? chunked(body) : body),
      };
    });
    const responses = parseResponses(await rawExchange(port, [parts.map((p) => p.text).join('')]), [...METHODS]);
    expect(responses.map((r) => r.status)).toEqual(METHODS.map(() => 200));
    expect(await routerLog()).toEqual(canonical(parts.map((p) => p.sent)));
    noLeak();
  });

  it.each(['chunked', 'content-length'] as const)(
    'a %s body cut short by the client never reaches the router as a request',
    async (framing) => {
      const body = SMUGGLED.repeat(4);
      const partial = framing === 'chunked' ? chunked(body).slice(0, 60) : body.slice(0, 60);
      const request =
        head(
          'PUT',
          '/v1/files/cut',
          auth(wide.key) + (framing === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : withLength(body)),
        ) +
        '\r\n' +
        partial;
      await rawExchange(port, [request, { closeAfterMs: 100 }]);
      expect(await routerLog()).toEqual([]);
      noLeak();
    },
  );

  it('a model-checked body cut short: nothing reaches the router', async () => {
    const body = '{"model":"gpt-4o-mini","messages":[]}';
    const request =
      head('POST', '/v1/chat/completions', `${auth(narrow.key)}Content-Type: application/json\r\n${withLength(body)}`) +
      '\r\n' +
      body.slice(0, 10);
    await rawExchange(port, [request, { closeAfterMs: 100 }]);
    expect(await routerLog()).toEqual([]);
    noLeak();
  });

  it('after an aborted exchange the next request on a fresh client is answered by its own response', async () => {
    const body = SMUGGLED.repeat(2);
    const request = `${head('POST', '/v1/files/a', auth(wide.key) + withLength(body))}\r\n${body.slice(0, 30)}`;
    await rawExchange(port, [request, { closeAfterMs: 50 }]);
    const c = chat(narrow.key, 'gpt-4o-mini', true);
    const responses = parseResponses(await rawExchange(port, [c.text]));
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(await routerLog()).toEqual([c.sent]);
    noLeak();
  });

  it('a slow body, a few bytes at a time, arrives whole and once', async () => {
    const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"${'x'.repeat(200)}"}]}`;
    const pieces: Piece[] = [
      `${head(
        'POST',
        '/v1/chat/completions',
        `${auth(narrow.key)}Content-Type: application/json\r\n${withLength(body)}Connection: close\r\n`,
      )}\r\n`,
    ];
    for (let i = 0; i < body.length; i += 40) pieces.push(body.slice(i, i + 40), { pauseMs: 15 });
    const responses = parseResponses(await rawExchange(port, pieces));
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(await routerLog()).toEqual([{ method: 'POST', url: '/v1/chat/completions', body }]);
    noLeak();
  });

  it('a slow chunked upload is streamed, framed, and arrives whole', async () => {
    const body = 'y'.repeat(300);
    const pieces: Piece[] = [
      `${head('POST', '/v1/files', `${auth(wide.key)}Transfer-Encoding: chunked\r\nConnection: close\r\n`)}\r\n`,
    ];
    const c = chunked(body, 50);
    for (let i = 0; i < c.length; i += 33) pieces.push(c.slice(i, i + 33), { pauseMs: 10 });
    const responses = parseResponses(await rawExchange(port, pieces));
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(await routerLog()).toEqual([{ method: 'POST', url: '/v1/files', body }]);
    noLeak();
  });
});

describe('randomized request sequences on one client connection', () => {
  type Gen = {
    method: (typeof METHODS)[number];
    key: 'narrow' | 'wide' | 'none';
    route: 'chat' | 'files';
    model: 'gpt-4o-mini' | 'gpt-4o' | 'smuggle';
    framing: 'cl' | 'chunked' | 'none';
  };
  const gen = fc.record<Gen>({
    method: fc.constantFrom(...METHODS),
    key: fc.constantFrom('narrow', 'wide', 'none'),
    route: fc.constantFrom('chat', 'files'),
    model: fc.constantFrom('gpt-4o-mini', 'gpt-4o', 'smuggle'),
    framing: fc.constantFrom('cl', 'chunked', 'none'),
  });

  function build(g: Gen, last: boolean): { sent: Sent; text: string } {
    const url = g.route === 'chat' ? '/v1/chat/completions' : '/v1/files/f1';
    const body = g.framing === 'none' ? '' : g.model === 'smuggle' ? SMUGGLED : `{"model":"${g.model}","messages":[]}`;
    const key = g.key === 'none' ? '' : auth(g.key === 'narrow' ? narrow.key : wide.key);
    const framing =
      g.framing === 'cl' ? withLength(body) : g.framing === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : '';
    const text =
      head(g.method, url, `${key}Content-Type: application/json\r\n${framing}${last ? 'Connection: close\r\n' : ''}`) +
      '\r\n' +
      (g.framing === 'chunked' ? chunked(body) : body);
    return { sent: { method: g.method, url, body }, text };
  }

  it('the router log is exactly the admitted requests, in order', async () => {
    let admittedTotal = 0;
    let deniedTotal = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(gen, { minLength: 1, maxLength: 6 }), async (seq) => {
        upstream.log.length = 0;
        upstream.parseErrors.length = 0;
        const reqs = seq.map((g, i) => build(g, i === seq.length - 1));
        const responses = parseResponses(
          await rawExchange(port, [reqs.map((r) => r.text).join('')]),
          seq.map((g) => g.method),
        );
        const admitted = reqs.filter((_r, i) => responses[i]?.headers['x-upstream'] === 'log').map((r) => r.sent);
        admittedTotal += admitted.length;
        deniedTotal += responses.length - admitted.length;
        expect(await routerLog()).toEqual(canonical(admitted));
        // and nothing was admitted that the key does not allow
        seq.forEach((g, i) => {
          if (responses[i]?.headers['x-upstream'] !== 'log') return;
          expect(g.key).not.toBe('none');
          if (g.key === 'narrow') expect(g.model === 'gpt-4o-mini' || g.framing === 'none').toBe(true);
        });
        noLeak();
      }),
      { numRuns: 60 },
    );
    // the generator reaches both sides of the property
    expect(admittedTotal).toBeGreaterThan(20);
    expect(deniedTotal).toBeGreaterThan(20);
  }, 120_000);
});

describe('model scope on every route (a key allowed gpt-4o-mini and whisper-1, every endpoint)', () => {
  const post = (url: string, contentType: string, body: string | FormData) =>
    fetch(`http://127.0.0.1:${port}${url}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${scoped.key}`, ...(contentType ? { 'content-type': contentType } : {}) },
      body,
    });

  it.each([
    [
      'a model in the deployment path',
      '/openai/deployments/gpt-4o/chat/completions',
      'application/json',
      '{"messages":[]}',
      403,
    ],
    ['an engine in the path', '/v1/engines/gpt-4o/completions', 'application/json', '{"prompt":"x"}', 403],
    [
      'an allowed path model with a forbidden body model',
      '/openai/deployments/gpt-4o-mini/chat/completions',
      'application/json',
      '{"model":"gpt-4o"}',
      403,
    ],
    ['JSON sent as text/plain', '/v1/chat/completions', 'text/plain', '{"model":"gpt-4o","messages":[]}', 403],
    ['JSON without a content type', '/v1/embeddings', '', '{"model":"gpt-4o","input":"x"}', 403],
    [
      'JSON on a route the gateway has no model rule for',
      '/v1/fine_tuning/jobs',
      'application/json',
      '{"model":"gpt-4o","training_file":"f"}',
      403,
    ],
    ['an unknown route', '/v1/messages', 'application/json', '{"model":"gpt-4o-mini","messages":[]}', 403],
    [
      'a batch',
      '/v1/batches',
      'application/json',
      '{"input_file_id":"file-1","endpoint":"/v1/chat/completions","completion_window":"24h"}',
      403,
    ],
    ['a form-encoded body', '/v1/chat/completions', 'application/x-www-form-urlencoded', 'model=gpt-4o', 400],
  ])('refused: %s', async (_name, url, contentType, body, status) => {
    const res = await post(url, contentType, body);
    expect(res.status).toBe(status);
    const err = (await res.json()) as { error: { code: string; message: string } };
    expect(err.error.message.length).toBeGreaterThan(10);
    expect(await routerLog()).toEqual([]);
  });

  it.each([
    [
      'an allowed deployment',
      '/openai/deployments/gpt-4o-mini/chat/completions',
      'application/json',
      '{"messages":[]}',
    ],
    ['allowed JSON sent as text/plain', '/v1/chat/completions', 'text/plain', '{"model":"gpt-4o-mini","messages":[]}'],
    ['a file upload (no model in it)', '/v1/files', 'application/json', '{"purpose":"assistants"}'],
  ])('allowed: %s', async (_name, url, contentType, body) => {
    const res = await post(url, contentType, body);
    expect(res.status).toBe(200);
    expect(await routerLog()).toEqual([{ method: 'POST', url, body }]);
  });

  it('an allowed audio model transcribes through the openai SDK; the router gets the form byte for byte', async () => {
    const client = new OpenAI({ apiKey: scoped.key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    const audio = await toFile(Buffer.from('RIFF\0\0\0\0WAVEfmt '), 'a.wav', { type: 'audio/wav' });
    await client.audio.transcriptions.create({ file: audio, model: 'whisper-1' });
    const log = await routerLog();
    expect(log).toHaveLength(1);
    expect(log[0]!.url).toBe('/v1/audio/transcriptions');
    expect(log[0]!.body).toContain('name="model"\r\n\r\nwhisper-1');
    expect(log[0]!.body).toContain('RIFF');
  });

  it('a forbidden audio model is refused with 403 through the SDK, and nothing reaches the router', async () => {
    const client = new OpenAI({ apiKey: scoped.key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    const audio = await toFile(Buffer.from('RIFF'), 'a.wav', { type: 'audio/wav' });
    const err = await client.audio.transcriptions
      .create({ file: audio, model: 'gpt-4o-transcribe' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(await routerLog()).toEqual([]);
  });

  it('a multipart body without a model on a model route is a clear 400', async () => {
    const form = new FormData();
    form.set('file', new Blob(['RIFF']), 'a.wav');
    const res = await post('/v1/audio/transcriptions', '', form);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('"model" field is required');
    expect(await routerLog()).toEqual([]);
  });
});

describe('forwarding headers, as a reverse proxy handles them', () => {
  it('a client that is not a trusted proxy cannot pose as another address: the router sees only the real peer', async () => {
    const spoof =
      'X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Host: evil\r\n';
    const request = `${head('GET', '/v1/models', `${auth(wide.key) + spoof}Connection: close\r\n`)}\r\n`;
    expect(parseResponses(await rawExchange(port, [request])).map((r) => r.status)).toEqual([200]);
    await routerLog();
    const seen = upstream.log[0]!.headers;
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    for (const h of ['forwarded', 'x-real-ip', 'x-forwarded-host']) expect(seen[h]).toBeUndefined();
  });
});

describe('refusals that leave a body unread close the connection', () => {
  it.each([
    ['an unknown key', () => makeKeyAndRecord().key, '/v1/files'],
    ['a model-scoped key on an unknown route', () => scoped.key, '/v1/messages'],
    ['a key whose endpoint scope refuses the route', () => narrow.key, '/v1/embeddings'],
  ])('%s, with a large body announced and never sent: answered and closed at once', async (_name, key, url) => {
    const request = `${head('POST', url, `${auth(key())}Content-Type: application/json\r\nContent-Length: 50000000\r\n`)}\r\n`;
    // the client keeps the connection open: only the gateway can close it
    const s = await rawSession(port, [request, { pauseMs: 5_000 }], { timeoutMs: 5_000 });
    expect(s.closedByServer).toBe(true);
    expect(parseResponses(s.bytes)[0]?.status).toBeGreaterThanOrEqual(400);
    expect(await routerLog()).toEqual([]);
  });
});

describe('Expect: 100-continue', () => {
  it('an unknown key gets its 401 without a 100 Continue first, and the connection closes', async () => {
    const other = makeKeyAndRecord().key;
    const request = `${head('POST', '/v1/files', `${auth(other)}Content-Length: 5\r\nExpect: 100-continue\r\n`)}\r\n`;
    const text = (await rawExchange(port, [request], { timeoutMs: 2_000 })).toString('latin1');
    expect(text).not.toContain('100 Continue');
    expect(text).toMatch(/^HTTP\/1\.1 401/);
    expect(text.toLowerCase()).toContain('connection: close');
  });

  it('a rate-limited upload gets its 429 without a 100 Continue: the rate limit needs no body', async () => {
    const limited = makeKeyAndRecord({ rateLimit: { requestsPerMinute: 1 } });
    keys.push(limited.key);
    records.upsert(limited.record);
    const request = (last: boolean) =>
      `${head(
        'POST',
        '/v1/files',
        `${auth(limited.key)}Content-Length: 5\r\nExpect: 100-continue\r\n${last ? 'Connection: close\r\n' : ''}`,
      )}\r\n`;
    const first = (await rawExchange(port, [request(true), { pauseMs: 50 }, 'hello'])).toString('latin1');
    expect(first).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/);
    const second = (await rawExchange(port, [request(false)], { timeoutMs: 2_000 })).toString('latin1');
    expect(second).toMatch(/^HTTP\/1\.1 429/);
    expect(second).not.toContain('100 Continue');
    expect(await routerLog()).toEqual([{ method: 'POST', url: '/v1/files', body: 'hello' }]);
  });

  it('an allowed request gets 100 Continue, then its answer', async () => {
    const pieces: Piece[] = [
      head('POST', '/v1/files', `${auth(wide.key)}Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n`) +
        '\r\n',
      { pauseMs: 100 },
      'hello',
    ];
    const text = (await rawExchange(port, pieces)).toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/);
    expect(await routerLog()).toEqual([{ method: 'POST', url: '/v1/files', body: 'hello' }]);
  });
});

describe('the key never reaches a log line (checked over every line of the suite, at trace level)', () => {
  it.each([
    [
      'in the query string',
      (k: string) => `${head('GET', `/v1/models?api_key=${k}`, `${auth(k)}Connection: close\r\n`)}\r\n`,
    ],
    ['in the path', (k: string) => `${head('GET', `/v1/models/${k}`, 'Connection: close\r\n')}\r\n`],
    [
      'URL-encoded in the path',
      (k: string) =>
        head('GET', `/v1/files/${encodeURIComponent(k).replace(/_/g, '%5F')}`, `${auth(k)}Connection: close\r\n`) +
        '\r\n',
    ],
    [
      'in a request node cannot parse (rawPacket)',
      (k: string) => `GET /v1/models HTTP/1.1\r\nAuthorization: Bearer ${k}\r\nBad Header\r\n\r\n`,
    ],
    [
      'in a header with a NUL byte',
      (k: string) => `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${k}\0\r\n\r\n`,
    ],
  ])('%s', async (_name, build) => {
    const before = logLines.length;
    for (const k of [wide.key, narrow.key]) await rawExchange(port, [build(k)]);
    expect(logLines.length).toBeGreaterThan(before);
    for (const k of keys) {
      const secret = k.slice(k.lastIndexOf('_') + 1);
      for (const line of logLines.slice(before)) expect(line).not.toContain(secret);
    }
  });
});

describe('the upstream side: a socket is reused only after a clean exchange', () => {
  it("stray bytes a router sends after its response never become the next request's answer", async () => {
    // a raw router: answers each request, then (later) writes a forged extra response on the socket
    const { createServer } = await import('node:net');
    let served = 0;
    const raw = createServer((sock) => {
      let buf = '';
      sock.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        while (buf.includes('\r\n\r\n')) {
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          const body = JSON.stringify({ n: ++served });
          sock.write(
            `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nX-Upstream: log\r\n\r\n${body}`,
          );
          setTimeout(() => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"forged":1}'), 20);
        }
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const rawPort = (raw.address() as AddressInfo).port;
    const records = new RecordStore();
    records.replaceAll([wide.record]);
    const gw = buildApp({
      records,
      usage: new UsageTracker(),
      upstream: new URL(`http://127.0.0.1:${rawPort}`),
      limiter: new MemoryLimiter(),
    });
    await gw.listen({ port: 0, host: '127.0.0.1' });
    const gwPort = (gw.server.address() as AddressInfo).port;
    try {
      const answers: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`http://127.0.0.1:${gwPort}/v1/models`, {
          headers: { authorization: `Bearer ${wide.key}` },
        });
        answers.push(await res.text());
        await new Promise((r) => setTimeout(r, 50)); // the forged bytes arrive while the socket is idle
      }
      expect(answers.some((a) => a.includes('forged'))).toBe(false);
      expect(answers.map((a) => (JSON.parse(a) as { n: number }).n)).toEqual([1, 2, 3, 4]);
    } finally {
      await gw.close();
      raw.close();
    }
  });
});
