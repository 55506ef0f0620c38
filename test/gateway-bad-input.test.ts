import { connect, type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../gateway/app.ts';
import { MemoryLimiter } from '../gateway/limits/memory.ts';
import { GatewayMetrics } from '../gateway/metrics.ts';
import { RecordStore } from '../gateway/records/store.ts';
import { makeKeyAndRecord } from '../gateway/sources/testing.ts';
import { UsageTracker } from '../gateway/usage/tracker.ts';
import { startUpstream, type TestUpstream } from './support/upstream.ts';

// Hostile bytes on a real socket: every malformed request gets a clear 4xx, nothing reaches the
// upstream, the key is never echoed, and the gateway keeps serving afterwards.

let upstream: TestUpstream;
let app: ReturnType<typeof buildApp>;
let port: number;
const records = new RecordStore();
const metrics = new GatewayMetrics();
const { key, record } = makeKeyAndRecord({ scopes: { models: ['gpt-4o-mini'], ipAllowlist: ['127.0.0.1', '::1'] } });
const secret = key.slice(key.lastIndexOf('_') + 1);

beforeAll(async () => {
  upstream = await startUpstream();
  records.replaceAll([record]);
  app = buildApp({
    records,
    usage: new UsageTracker(),
    upstream: upstream.url,
    limiter: new MemoryLimiter(),
    metrics,
    maxBodyBytes: 4096,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app?.close();
  await upstream?.close();
});

/** Sends raw bytes, returns the status line's code and the whole answer. */
function raw(request: string | Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    sock.end(request);
  });
}

const auth = `Authorization: Bearer ${key}\r\n`;
const req = (line: string, headers: string, body = '') =>
  `${line}\r\nHost: x\r\n${headers}Connection: close\r\n\r\n${body}`;
const json = (body: string) => `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;

describe('malformed requests on a real socket', () => {
  it.each<[string, string | Buffer, number]>([
    [
      'dot-dot path (not normalised by a client)',
      req(
        'POST /v1/embeddings/../chat/completions HTTP/1.1',
        auth + json('{"model":"gpt-4o-mini"}'),
        '{"model":"gpt-4o-mini"}',
      ),
      400,
    ],
    ['encoded dot-dot', req('GET /v1/%2e%2e/admin HTTP/1.1', auth), 400],
    ['encoded slash', req('GET /v1/chat%2fcompletions HTTP/1.1', auth), 400],
    ['double slash', req('GET //v1/models HTTP/1.1', auth), 400],
    ['absolute-form target to another host', req('GET http://evil.example/v1/models HTTP/1.1', auth), 400],
    ['invalid JSON', req('POST /v1/chat/completions HTTP/1.1', auth + json('{"model":'), '{"model":'), 400],
    [
      'missing model',
      req('POST /v1/chat/completions HTTP/1.1', auth + json('{"messages":[]}'), '{"messages":[]}'),
      400,
    ],
    [
      'model of the wrong type',
      req('POST /v1/chat/completions HTTP/1.1', auth + json('{"model":{"$ne":1}}'), '{"model":{"$ne":1}}'),
      400,
    ],
    [
      'declared body over the bound',
      req(
        'POST /v1/chat/completions HTTP/1.1',
        `${auth}Content-Type: application/json\r\nContent-Length: 999999999\r\n`,
      ),
      413,
    ],
    [
      'gzip body on a model route',
      req('POST /v1/chat/completions HTTP/1.1', `${auth + json('xxxx')}Content-Encoding: gzip\r\n`, 'xxxx'),
      400,
    ],
    ['key with a trailing garbage byte', req('GET /v1/models HTTP/1.1', `Authorization: Bearer ${key}\u00e9\r\n`), 401],
    ['two different keys', req('GET /v1/models HTTP/1.1', `${auth}X-Api-Key: ${key.slice(0, -1)}x\r\n`), 401],
    ['empty bearer', req('GET /v1/models HTTP/1.1', 'Authorization: Bearer \r\n'), 401],
    ['bearer with only spaces', req('GET /v1/models HTTP/1.1', 'Authorization: Bearer      \r\n'), 401],
    [
      'header with a NUL byte (parser rejects)',
      req('GET /v1/models HTTP/1.1', `Authorization: Bearer ${key}\0\r\n`),
      400,
    ],
    [
      'Content-Length and Transfer-Encoding together (smuggling)',
      req('POST /v1/files HTTP/1.1', `${auth}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n`, '0\r\n\r\n'),
      400,
    ],
    ['oversized headers', req('GET /v1/models HTTP/1.1', `${auth}X-Pad: ${'a'.repeat(20_000)}\r\n`), 431],
    ['garbage request line', 'HELLO\r\n\r\n', 400],
  ])('%s → %s', async (_name, request, status) => {
    const before = upstream.seen.length;
    const res = await raw(request);
    expect(res.status).toBe(status);
    expect(res.text).not.toContain(secret);
    expect(upstream.seen.length).toBe(before);
  });

  it('still serves after all of that', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
  });
});

describe('fuzzed headers and bodies through inject', () => {
  it('never a 5xx and never the key in the answer', async () => {
    const headerValue = fc.oneof(
      fc.constant(key),
      fc.constant(`Bearer ${key}`),
      fc.string({ maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
      fc.constant(`Bearer ${key.slice(0, 40)}`),
    );
    const body = fc.oneof(
      fc.constant('{"model":"gpt-4o-mini","messages":[]}'),
      fc.constant('{"model":"gpt-4o","messages":[]}'),
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 200 }),
    );
    const path = fc.constantFrom(
      '/v1/chat/completions',
      '/v1/embeddings',
      '/v1/models',
      '/v1/x/../y',
      '/v1/%zz',
      '/',
      '/v1/audio/transcriptions',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({ authorization: headerValue, 'x-api-key': fc.option(headerValue, { nil: undefined }) }),
        body,
        path,
        async (headers, payload, url) => {
          const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<
            string,
            string
          >;
          const r = await app.inject({
            method: 'POST',
            url,
            headers: { ...clean, 'content-type': 'application/json' },
            payload,
            remoteAddress: '127.0.0.1',
          });
          expect(r.statusCode).toBeLessThan(500);
          expect(r.body).not.toContain(secret);
        },
      ),
      { numRuns: 300 },
    );
    expect(await metrics.text()).not.toContain(secret);
  });
});
