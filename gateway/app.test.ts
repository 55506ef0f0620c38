import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KeyRecord } from '../api/record.ts';
import { startUpstream, type TestUpstream } from '../test/support/upstream.ts';
import { buildApp, type GatewayDeps } from './app.ts';
import type { Admission, Limiter, Outcome, Reservation } from './limits/limiter.ts';
import { MemoryLimiter } from './limits/memory.ts';
import { GatewayMetrics } from './metrics.ts';
import { RecordStore } from './records/store.ts';
import { makeKeyAndRecord, type RecordOverrides } from './sources/testing.ts';
import { capturedLogger } from './testing-log.ts';
import { UsageTracker } from './usage/tracker.ts';

// The request path end to end through fastify.inject() and a real upstream on port 0.

const NOW = Date.parse('2026-06-01T12:00:00Z');

/** Counts every limiter call, so tests can prove denied requests never reach it. */
class CountingLimiter implements Limiter {
  readonly inner = new MemoryLimiter();
  admits = 0;
  charges: number[] = [];
  admit(limitsKey: string, record: KeyRecord, estimate: number, nowMs: number): Admission {
    this.admits++;
    return this.inner.admit(limitsKey, record, estimate, nowMs);
  }
  settle(limitsKey: string, record: KeyRecord, reservation: Reservation, outcome: Outcome, nowMs: number): void {
    if (outcome.cost > 0) this.charges.push(outcome.cost);
    this.inner.settle(limitsKey, record, reservation, outcome, nowMs);
  }
}

let upstream: TestUpstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream.close();
});
beforeEach(() => {
  upstream.seen.length = 0;
  upstream.totalTokens = 7;
});

function setup(overrides: RecordOverrides = {}, deps: Partial<GatewayDeps> = {}) {
  const { key, record } = makeKeyAndRecord(overrides);
  const records = new RecordStore();
  records.replaceAll([record]);
  const limiter = new CountingLimiter();
  const usage = new UsageTracker();
  const metrics = new GatewayMetrics();
  const app = buildApp({ records, usage, upstream: upstream.url, limiter, metrics, clock: () => NOW, ...deps });
  const auth = { authorization: `Bearer ${key}` };
  const chat = (
    body: unknown = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
    headers: Record<string, string> = {},
  ) =>
    app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { ...auth, 'content-type': 'application/json', ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return { app, key, record, records, limiter, usage, metrics, auth, chat };
}

describe('fail closed', () => {
  it('answers 503 before the first sync, then serves', async () => {
    const { key, record } = makeKeyAndRecord();
    const records = new RecordStore();
    const app = buildApp({ records, usage: new UsageTracker(), upstream: upstream.url, limiter: new MemoryLimiter() });
    const r = await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${key}` } });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ error: { code: 'gateway_not_ready' } });
    expect(upstream.seen).toHaveLength(0);
    records.replaceAll([record]);
    expect(
      (await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${key}` } })).statusCode,
    ).toBe(200);
  });
});

describe('pass-through', () => {
  it('forwards the body byte for byte and strips the client key', async () => {
    const { chat, key } = setup({}, { upstreamAuthorization: 'Bearer router-secret' });
    const raw = '{ "model" : "gpt-4o-mini",\n "messages": [{"role":"user","content":"héllo"}], "extra": 1 }';
    const r = await chat(raw, {
      'x-api-key': key,
      'api-key': key,
      'x-custom': 'kept',
      'proxy-authorization': 'Basic x',
      'accept-encoding': 'gzip',
    });
    expect(r.statusCode).toBe(200);
    const seen = upstream.seen[0]!;
    expect(seen.body.toString('utf8')).toBe(raw);
    expect(seen.headers['x-custom']).toBe('kept');
    expect(seen.headers.authorization).toBe('Bearer router-secret');
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers['api-key']).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['accept-encoding']).toBe('identity');
    expect(JSON.stringify(seen.headers)).not.toContain(key);
    expect(r.headers['x-upstream']).toBe('test');
  });

  it('streams a large non-model body unchanged, beyond the model-check bound', async () => {
    const { app, auth } = setup({}, { maxBodyBytes: 1024 });
    const big = Buffer.alloc(3 * 1024 * 1024, 'a');
    const r = await app.inject({
      method: 'POST',
      url: '/v1/files',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      payload: big,
    });
    expect(r.statusCode).toBe(200);
    expect(upstream.seen[0]!.body.equals(big)).toBe(true);
  });

  it('502 in the OpenAI shape when the upstream is unreachable: nothing charged, no rate-limit slot spent, last-used unmoved', async () => {
    const { key, record } = makeKeyAndRecord({
      budget: { credits: 100, period: 'Never' },
      rateLimit: { requestsPerMinute: 1 },
    });
    const records = new RecordStore();
    records.replaceAll([record]);
    const limiter = new CountingLimiter();
    const usage = new UsageTracker();
    const app = buildApp({ records, usage, upstream: new URL('http://127.0.0.1:1'), limiter, clock: () => NOW });
    for (let i = 0; i < 3; i++) {
      const r = await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${key}` } });
      expect(r.statusCode).toBe(502);
      expect(r.json()).toMatchObject({ error: { type: 'api_error', code: 'upstream_unavailable' } });
    }
    expect(limiter.charges).toEqual([]);
    expect(limiter.inner.requestsThisMinute(record.limitsKey, NOW)).toBe(0);
    expect(limiter.inner.budgetUsed(record.limitsKey, record, NOW)).toBe(0);
    expect(usage.lastUsedAtMs(record.keyId)).toBeUndefined();
  });

  it('a credential node refuses as a header value still gets an answer (502), not a hung request', async () => {
    const { app, auth } = setup({}, { upstreamAuthorization: 'Bearer bad\nvalue' });
    const r = await app.inject({ method: 'GET', url: '/v1/models', headers: auth });
    expect(r.statusCode).toBe(502);
    expect(upstream.seen).toHaveLength(0);
  });
});

describe('costs', () => {
  it.each([
    ['JSON usage', { model: 'gpt-4o-mini', messages: [] }, '/v1/chat/completions', 7],
    ['final SSE chunk', { model: 'gpt-4o-mini', messages: [], stream: true }, '/v1/chat/completions', 7],
    [
      'no usage reported: the reservation (the default, no max_tokens)',
      { model: 'dall-e-3', prompt: 'cat' },
      '/v1/images/generations',
      256,
    ],
    [
      'no usage reported: the reservation (max_tokens)',
      { model: 'dall-e-3', prompt: 'cat', max_tokens: 40 },
      '/v1/images/generations',
      40,
    ],
  ])('%s', async (_name, body, url, cost) => {
    const { app, auth, limiter, usage, record, metrics } = setup({ budget: { credits: 1000, period: 'Monthly' } });
    const r = await app.inject({
      method: 'POST',
      url,
      headers: { ...auth, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
    expect(r.statusCode).toBe(200);
    await new Promise((res) => setImmediate(res));
    expect(limiter.charges).toEqual([cost]);
    expect(limiter.inner.budgetUsed(record.limitsKey, record, NOW)).toBe(cost);
    expect(usage.snapshot()[record.keyId]).toMatchObject({ requests: 1, credits: cost });
    const text = await metrics.text();
    expect(text).toMatch(
      new RegExp(`nemokeys_gateway_requests_total\\{[^}]*endpoint="${url.slice(3)}",code="200"\\} 1`),
    );
    expect(text).toContain('nemokeys_gateway_overhead_seconds_count 1');
    expect(text).toContain('nemokeys_gateway_upstream_seconds_count 1');
  });
});

describe('denials: status, shape, and nothing consumed', () => {
  const TEN = '10.0.0.0/8';
  it.each<
    [
      string,
      RecordOverrides,
      { url?: string; body?: string; remote?: string; headers?: Record<string, string> },
      number,
      string,
      string,
    ]
  >([
    [
      'revoked',
      { state: 'Revoked', rateLimit: { requestsPerMinute: 1 } },
      {},
      401,
      'authentication_error',
      'revoked_api_key',
    ],
    ['expired', { expiresAt: new Date(NOW - 1).toISOString() }, {}, 401, 'authentication_error', 'expired_api_key'],
    [
      'ip not allowed',
      { scopes: { ipAllowlist: [TEN] }, budget: { credits: 5, period: 'Never' } },
      {},
      401,
      'authentication_error',
      'ip_not_allowed',
    ],
    [
      'ip not allowed despite XFF',
      { scopes: { ipAllowlist: [TEN] } },
      { headers: { 'x-forwarded-for': '10.1.1.1' } },
      401,
      'authentication_error',
      'ip_not_allowed',
    ],
    [
      'endpoint not allowed',
      { scopes: { endpoints: ['/embeddings'] } },
      {},
      403,
      'permission_error',
      'endpoint_not_allowed',
    ],
    ['model not allowed', { scopes: { models: ['gpt-4o'] } }, {}, 403, 'permission_error', 'model_not_allowed'],
    ['invalid JSON', {}, { body: '{"model":' }, 400, 'invalid_request_error', 'invalid_request'],
    ['missing model', {}, { body: '{"messages":[]}' }, 400, 'invalid_request_error', 'invalid_request'],
    [
      'ambiguous path (double slash)',
      {},
      { url: '/v1//chat/completions' },
      400,
      'invalid_request_error',
      'invalid_request',
    ],
    [
      'huge JSON',
      {},
      { body: JSON.stringify({ model: 'gpt-4o-mini', pad: 'x'.repeat(2 * 1024 * 1024) }) },
      413,
      'invalid_request_error',
      'request_too_large',
    ],
  ])('%s → %s', async (_name, overrides, req, status, type, code) => {
    const { app, auth, limiter, usage, metrics, key } = setup(overrides);
    const r = await app.inject({
      method: 'POST',
      url: req.url ?? '/v1/chat/completions',
      headers: { ...auth, 'content-type': 'application/json', ...req.headers },
      payload: req.body ?? JSON.stringify({ model: 'gpt-4o-mini', messages: [] }),
      ...(req.remote ? { remoteAddress: req.remote } : {}),
    });
    expect(r.statusCode).toBe(status);
    expect(r.json()).toEqual({ error: { message: expect.any(String), type, param: null, code } });
    expect(r.headers['x-should-retry']).toBe('false');
    expect(r.body).not.toContain(key);
    expect(limiter.admits).toBe(0);
    expect(limiter.charges).toEqual([]);
    expect(usage.snapshot()).toEqual({});
    expect(upstream.seen).toHaveLength(0);
    expect(await metrics.text()).toMatch(
      /nemokeys_gateway_denials_total\{reason="[a-z_]+",namespace="team-a",apikey="checkout",team="team-a"\} 1/,
    );
  });

  it('an allowlisted source passes (inject peer in the allowlist)', async () => {
    const { chat } = setup({ scopes: { ipAllowlist: ['127.0.0.0/8'] } });
    expect((await chat()).statusCode).toBe(200);
  });

  it('X-Forwarded-For from a trusted proxy decides the source', async () => {
    const { app, auth } = setup({ scopes: { ipAllowlist: ['192.0.2.0/24'] } }, { trustedProxies: ['127.0.0.1/32'] });
    const go = (xff: string) =>
      app.inject({ method: 'GET', url: '/v1/models', headers: { ...auth, 'x-forwarded-for': xff } });
    expect((await go('192.0.2.77')).statusCode).toBe(200);
    expect((await go('192.0.2.77, 203.0.113.5')).statusCode).toBe(401);
    expect((await go('[::ffff:192.0.2.77]:1234')).statusCode).toBe(200);
    expect((await go('nonsense')).statusCode).toBe(401);
  });

  it('chunked body over the bound is refused while reading', async () => {
    const { app, auth } = setup({}, { maxBodyBytes: 64 });
    const { Readable } = await import('node:stream');
    const payload = Readable.from([
      Buffer.from('{"model":"gpt-4o-mini","pad":"'),
      Buffer.alloc(200, 'x'),
      Buffer.from('"}'),
    ]);
    const r = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { ...auth, 'content-type': 'application/json' },
      payload,
    });
    expect(r.statusCode).toBe(413);
  });

  it('rate limit → 429 with Retry-After after exactly N requests', async () => {
    const { chat } = setup({ rateLimit: { requestsPerMinute: 2 } });
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await chat()).statusCode);
    expect(codes).toEqual([200, 200, 429, 429]);
    const r = await chat();
    expect(r.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } });
    expect(r.headers['retry-after']).toBe('60');
    expect(r.headers['x-should-retry']).toBe('true');
  });

  it('budget → 429 insufficient_quota once spent', async () => {
    const { chat } = setup({ budget: { credits: 10, period: 'Never' } });
    expect((await chat()).statusCode).toBe(200); // costs 7
    await new Promise((res) => setImmediate(res));
    expect((await chat()).statusCode).toBe(200); // 7 < 10: admitted, costs 7 more
    await new Promise((res) => setImmediate(res));
    const r = await chat();
    expect(r.statusCode).toBe(429);
    expect(r.json()).toMatchObject({ error: { type: 'insufficient_quota', code: 'insufficient_quota' } });
    expect(r.headers['retry-after']).toBeUndefined();
  });

  it('a limiter outage fails closed with 503', async () => {
    const { key, record } = makeKeyAndRecord();
    const records = new RecordStore();
    records.replaceAll([record]);
    const broken: Limiter = { admit: () => Promise.reject(new Error('redis down')), settle: () => {} };
    const app = buildApp({ records, usage: new UsageTracker(), upstream: upstream.url, limiter: broken });
    const r = await app.inject({ method: 'GET', url: '/v1/models', headers: { 'x-api-key': key } });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ error: { code: 'limiter_unavailable' } });
    expect(upstream.seen).toHaveLength(0);
  });
});

describe('outside the proxied surface', () => {
  it('an unsupported method from an authenticated caller gets an OpenAI-shaped 405, unauthenticated a 401', async () => {
    const { app, auth } = setup();
    const r = await app.inject({ method: 'TRACE', url: '/v1/models', headers: auth });
    expect(r.statusCode).toBe(405);
    expect(r.json()).toMatchObject({ error: { code: 'unsupported_method' } });
    expect((await app.inject({ method: 'TRACE', url: '/v1/models' })).statusCode).toBe(401);
    expect(upstream.seen).toHaveLength(0);
  });
});

describe('the key never leaks', () => {
  it('not in logs (info level, every path), errors or metrics', async () => {
    const { logger, text } = capturedLogger('trace');
    const { app, key, metrics } = setup(
      { rateLimit: { requestsPerMinute: 1 }, scopes: { models: ['gpt-4o-mini'] } },
      { logger },
    );
    const secret = key.slice(key.lastIndexOf('_') + 1);
    const variants: Record<string, string>[] = [
      { authorization: `Bearer ${key}` },
      { 'x-api-key': key },
      { 'api-key': key },
      { authorization: `Bearer ${key}x` }, // malformed
      { authorization: `Bearer ${key.slice(0, -2)}` }, // truncated
      { authorization: `Basic ${Buffer.from(`u:${key}`).toString('base64')}` },
    ];
    for (const headers of variants) {
      for (const url of ['/v1/chat/completions', '/v1/../x', '/v1/embeddings']) {
        await app.inject({
          method: 'POST',
          url,
          headers: { ...headers, 'content-type': 'application/json' },
          payload: '{"model":"gpt-4o"}',
        });
        await app.inject({
          method: 'POST',
          url,
          headers: { ...headers, 'content-type': 'application/json' },
          payload: '{"model":"gpt-4o-mini"}',
        });
      }
    }
    const logs = text();
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain('request denied');
    expect(logs).not.toContain(secret);
    expect(await metrics.text()).not.toContain(secret);
    expect(JSON.stringify(upstream.seen.map((s) => s.headers))).not.toContain(secret);
  });
});

describe('pass-through routes for model-scoped keys', () => {
  const post = (app: ReturnType<typeof setup>['app'], auth: Record<string, string>, model: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: JSON.stringify({ model, messages: [] }),
    });

  it('an unknown route is refused to a model-scoped key with a message saying why', async () => {
    const { app, auth } = setup({ scopes: { models: ['gpt-4o-mini'] } });
    const r = await post(app, auth, 'gpt-4o-mini');
    expect(r.statusCode).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'endpoint_not_allowed' } });
    expect(r.json<{ error: { message: string } }>().error.message).toContain('cannot tell which model');
    expect(upstream.seen).toHaveLength(0);
  });

  it('listed as pass-through it is forwarded, and a model its body names is still checked', async () => {
    const { app, auth } = setup({ scopes: { models: ['gpt-4o-mini'] } }, { passThroughRoutes: ['/v1/messages'] });
    expect((await post(app, auth, 'gpt-4o-mini')).statusCode).toBe(200);
    expect((await post(app, auth, 'gpt-4o')).statusCode).toBe(403);
    expect(upstream.seen.map((s) => s.url)).toEqual(['/v1/messages']);
  });
});
