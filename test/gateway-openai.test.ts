import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateKey } from '../api/keyformat.ts';
import type { KeyRecord } from '../api/record.ts';
import { buildApp } from '../gateway/app.ts';
import { DEFAULT_RESERVATION_TOKENS } from '../gateway/limits/estimate.ts';
import { MemoryLimiter } from '../gateway/limits/memory.ts';
import { GatewayMetrics } from '../gateway/metrics.ts';
import { RecordStore } from '../gateway/records/store.ts';
import { UsageTracker } from '../gateway/usage/tracker.ts';
import { makeKeyAndRecord, type RecordOverrides } from '../gateway/sources/testing.ts';
import { startUpstream, type TestUpstream } from './support/upstream.ts';

// The official openai SDK against the gateway listening on a real port, with a real upstream behind
// it: allowed traffic passes through unchanged, and every denial of docs/design.md §4 surfaces as the SDK's
// typed error with the right status, type and code.

let upstream: TestUpstream;
let gatewayUrl: string;
const records = new RecordStore();
const limiter = new MemoryLimiter();
const usage = new UsageTracker();
const metrics = new GatewayMetrics();
let app: ReturnType<typeof buildApp>;
const keys: string[] = [];

/** A key and the record the operator renders for it (gateway/sources/testing.ts). */
function addKey(spec: RecordOverrides = {}): { key: string; record: KeyRecord } {
  const kr = makeKeyAndRecord(spec);
  keys.push(kr.key);
  records.upsert(kr.record);
  return kr;
}

const client = (apiKey: string, base = gatewayUrl) =>
  new OpenAI({ apiKey, baseURL: `${base}/v1`, maxRetries: 0, timeout: 10_000 });

async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return e;
    throw e;
  }
  throw new Error('expected the SDK to throw');
}

beforeAll(async () => {
  upstream = await startUpstream();
  records.replaceAll([]);
  app = buildApp({ records, usage, limiter, metrics, upstream: upstream.url });
  await app.listen({ port: 0, host: '::' });
  const { port } = app.server.address() as AddressInfo;
  gatewayUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await app?.close();
  await upstream?.close();
});
beforeEach(() => {
  upstream.holdStreams = false;
});

describe('allowed traffic passes through unchanged', () => {
  it('chat completions (plain)', async () => {
    const { key } = addKey();
    const body = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'Hello ünïcode' }],
      temperature: 0.2,
    };
    const { data, response } = await client(key).chat.completions.create(body).withResponse();
    expect(data.choices[0]!.message.content).toMatch(/^echo: \d+ bytes$/);
    expect(data.usage?.total_tokens).toBe(7);
    expect(response.headers.get('x-upstream')).toBe('test');
    const echo = (data as unknown as { nemokeys_echo: { body: string; headers: Record<string, string> } })
      .nemokeys_echo;
    expect(JSON.parse(echo.body)).toEqual(body);
    expect(echo.headers.authorization).toBeUndefined();
    expect(JSON.stringify(echo.headers)).not.toContain(key);
  });

  it('chat completions (SSE streaming, chunks forwarded as they come, usage billed)', async () => {
    const { key, record } = addKey({ budget: { credits: 1000, period: 'Never' } });
    upstream.holdStreams = true; // the upstream stops after its first chunk until released
    const stream = await client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next(); // would hang if the gateway buffered the stream
    expect(first.done).toBe(false);
    upstream.release();
    let text = '';
    let total: number | undefined;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      text += r.value.choices[0]?.delta.content ?? '';
      if (r.value.usage) total = r.value.usage.total_tokens;
    }
    expect(text.trim()).toMatch(/^echo: \d+ bytes$/);
    expect(total).toBe(7);
    await new Promise((r) => setTimeout(r, 20));
    expect(limiter.budgetUsed(record.limitsKey, record, Date.now())).toBe(7);
    expect(usage.snapshot()[record.keyId]).toMatchObject({ requests: 1, credits: 7 });
  });

  it('a client leaving mid-stream aborts the upstream stream and is still charged', async () => {
    const { key, record } = addKey({ budget: { credits: 1000, period: 'Never' } });
    upstream.holdStreams = true;
    const aborted = upstream.abortedStreams;
    const ac = new AbortController();
    const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [], stream: true, max_tokens: 50 }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    expect((await reader.read()).done).toBe(false); // the first chunk arrived
    ac.abort();
    for (let i = 0; i < 200 && upstream.abortedStreams === aborted; i++) await new Promise((r) => setTimeout(r, 10));
    expect(upstream.abortedStreams).toBe(aborted + 1);
    upstream.release();
    // no usage was seen before the client left: the request costs its reservation (max_tokens), never 0 or 1
    for (let i = 0; i < 200 && usage.snapshot()[record.keyId]?.credits === undefined; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(usage.snapshot()[record.keyId]?.credits).toBe(50);
    expect(limiter.budgetUsed(record.limitsKey, record, Date.now())).toBe(50);
  });

  it('embeddings', async () => {
    const { key } = addKey({ scopes: { endpoints: ['/embeddings'], models: ['text-embedding-3-small'] } });
    const res = await client(key).embeddings.create({
      model: 'text-embedding-3-small',
      input: ['a', 'b'],
      encoding_format: 'float',
    });
    expect(res.data[0]!.embedding).toEqual([0.1, 0.2, 0.3]);
    const echo = (res as unknown as { nemokeys_echo: { body: string } }).nemokeys_echo;
    expect(JSON.parse(echo.body)).toEqual({
      model: 'text-embedding-3-small',
      input: ['a', 'b'],
      encoding_format: 'float',
    });
  });

  it('image generation (no usage reported: costs the default reservation)', async () => {
    const { key, record } = addKey({
      scopes: { endpoints: ['/v1/images/generations'] },
      budget: { credits: 5, period: 'Daily' },
    });
    const res = await client(key).images.generate({ model: 'dall-e-3', prompt: 'a cat' });
    expect(res.data?.[0]?.b64_json).toBe('iVBORw0KGgo=');
    await new Promise((r) => setTimeout(r, 20));
    expect(limiter.budgetUsed(record.limitsKey, record, Date.now())).toBe(DEFAULT_RESERVATION_TOKENS);
  });

  it('models list', async () => {
    const { key } = addKey();
    const page = await client(key).models.list();
    expect(page.data.map((m) => m.id)).toEqual(['gpt-4o-mini']);
  });
});

describe('each denial surfaces in the SDK', () => {
  const chat = (key: string, model = 'gpt-4o-mini') =>
    client(key).chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] });

  it.each<[string, () => string, unknown, number, string, string]>([
    ['malformed key', () => 'sk-not-ours', OpenAI.AuthenticationError, 401, 'authentication_error', 'invalid_api_key'],
    [
      'unknown key',
      () => generateKey({ environment: 'prod' }).key,
      OpenAI.AuthenticationError,
      401,
      'authentication_error',
      'invalid_api_key',
    ],
    [
      'revoked',
      () => addKey({ state: 'Revoked' }).key,
      OpenAI.AuthenticationError,
      401,
      'authentication_error',
      'revoked_api_key',
    ],
    [
      'expired',
      () => addKey({ expiresAt: '2020-01-01T00:00:00Z' }).key,
      OpenAI.AuthenticationError,
      401,
      'authentication_error',
      'expired_api_key',
    ],
    [
      'ip not allowed',
      () => addKey({ scopes: { ipAllowlist: ['192.0.2.0/24', '2001:db8::/32'] } }).key,
      OpenAI.AuthenticationError,
      401,
      'authentication_error',
      'ip_not_allowed',
    ],
    [
      'endpoint not allowed',
      () => addKey({ scopes: { endpoints: ['/embeddings'] } }).key,
      OpenAI.PermissionDeniedError,
      403,
      'permission_error',
      'endpoint_not_allowed',
    ],
    [
      'model not allowed',
      () => addKey({ scopes: { models: ['gpt-4o'] } }).key,
      OpenAI.PermissionDeniedError,
      403,
      'permission_error',
      'model_not_allowed',
    ],
  ])('%s', async (_name, makeKey, cls, status, type, code) => {
    const before = upstream.seen.length;
    const err = await apiError(chat(makeKey()));
    expect(err).toBeInstanceOf(cls as typeof OpenAI.APIError);
    expect(err.status).toBe(status);
    expect(err.type).toBe(type);
    expect(err.code).toBe(code);
    expect(upstream.seen.length).toBe(before);
  });

  it('rate limit → RateLimitError with Retry-After', async () => {
    const { key } = addKey({ rateLimit: { requestsPerMinute: 2 } });
    await chat(key);
    await chat(key);
    const err = await apiError(chat(key));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('budget → RateLimitError insufficient_quota, not retried by the SDK', async () => {
    const { key } = addKey({ budget: { credits: 1, period: 'Monthly' } });
    await chat(key);
    await new Promise((r) => setTimeout(r, 20));
    const before = upstream.seen.length;
    const retrying = new OpenAI({ apiKey: key, baseURL: `${gatewayUrl}/v1`, maxRetries: 3 });
    const err = await apiError(retrying.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.type).toBe('insufficient_quota');
    expect(err.code).toBe('insufficient_quota');
    expect(upstream.seen.length).toBe(before);
  });

  it('missing model → BadRequestError; huge body → 413', async () => {
    const { key } = addKey();
    const bad = await apiError(
      client(key).chat.completions.create({ messages: [] } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming),
    );
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    const huge = await apiError(chat(key, 'x'.repeat(2 * 1024 * 1024)));
    expect(huge.status).toBe(413);
  });

  it('not synced → 503 (InternalServerError)', async () => {
    const store = new RecordStore();
    const cold = buildApp({ records: store, usage, limiter, upstream: upstream.url });
    await cold.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = cold.server.address() as AddressInfo;
      const err = await apiError(client(addKey().key, `http://127.0.0.1:${port}`).models.list());
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      expect(err.status).toBe(503);
    } finally {
      await cold.close();
    }
  });
});

describe('real sockets: IPv4, IPv6 and IPv4-mapped peers', () => {
  it.each([
    ['IPv4 client, IPv4 allowlist (peer arrives as ::ffff:127.0.0.1)', ['127.0.0.1'], '127.0.0.1', 200],
    ['IPv6 client, IPv6 allowlist', ['::1/128'], '[::1]', 200],
    ['IPv6 client, IPv4-only allowlist', ['127.0.0.0/8'], '[::1]', 401],
    ['IPv4 client, mapped-IPv6 allowlist entry', ['::ffff:127.0.0.0/104'], '127.0.0.1', 200],
  ])('%s', async (_name, ipAllowlist, host, status) => {
    const { key } = addKey({ scopes: { ipAllowlist } });
    const { port } = app.server.address() as AddressInfo;
    const res = await fetch(`http://${host}:${port}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(status);
  });
});

describe('the key never shows up in metrics', () => {
  it('metrics text holds key ids, never key material', async () => {
    const text = await metrics.text();
    expect(text).toContain('nemokeys_gateway_requests_total');
    for (const key of keys) expect(text).not.toContain(key.slice(key.lastIndexOf('_') + 1));
  });
});
