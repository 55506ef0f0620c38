import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KeyRecord } from '../api/record.ts';
import { buildApp } from '../gateway/app.ts';
import { MemoryLimiter } from '../gateway/limits/memory.ts';
import { RecordStore } from '../gateway/records/store.ts';
import { UsageTracker } from '../gateway/usage/tracker.ts';
import { startLoggingUpstream, type LoggingUpstream } from './support/logging-upstream.ts';
import { makeKeyAndRecord, type RecordOverrides } from '../gateway/sources/testing.ts';
import { settledCredits } from './support/settled.ts';

// Costs with the official openai SDK, against a router that behaves like OpenAI: a stream reports
// usage only when the request sets stream_options.include_usage (docs/design.md §4, "Costs"). Plain and
// streamed completions are charged exactly the tokens the router reported; a client that did not ask
// for usage still gets exactly the stream it asked for; a budget smaller than one streamed response
// is exhausted by it; a stream cut short is charged its reservation, never 0 or 1.

let upstream: LoggingUpstream;
let gatewayUrl: string;
let app: ReturnType<typeof buildApp>;
const records = new RecordStore();
const limiter = new MemoryLimiter();
const usage = new UsageTracker();

function addKey(spec: RecordOverrides): { key: string; record: KeyRecord } {
  const kr = makeKeyAndRecord(spec);
  records.upsert(kr.record);
  return kr;
}
const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${gatewayUrl}/v1`, maxRetries: 0, timeout: 10_000 });

beforeAll(async () => {
  upstream = await startLoggingUpstream();
  records.replaceAll([]);
  app = buildApp({ records, usage, limiter, upstream: upstream.url });
  await app.listen({ port: 0, host: '127.0.0.1' });
  gatewayUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
  await upstream?.close();
});
beforeEach(() => {
  upstream.totalTokens = 57;
  upstream.streamChunks = 3;
  upstream.streamDelayMs = 0;
  upstream.headerDelayMs = 0;
  upstream.log.length = 0;
});

describe('charged what the router reports', () => {
  it('a plain completion', async () => {
    const { key, record } = addKey({ budget: { credits: 1000, period: 'Never' } });
    const res = await client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.usage?.total_tokens).toBe(57);
    expect(await settledCredits(usage, record.keyId)).toBe(57);
    expect(limiter.budgetUsed(record.limitsKey, record, Date.now())).toBe(57);
  });

  it('a streamed completion that did not ask for usage: charged the reported tokens, and its stream is exactly what it asked for', async () => {
    const { key, record } = addKey({ budget: { credits: 1000, period: 'Never' } });
    const stream = await client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [], stream: true });
    const chunks: Record<string, unknown>[] = [];
    for await (const c of stream) chunks.push(c as unknown as Record<string, unknown>);
    // the router was asked for usage ...
    expect(JSON.parse(upstream.log[0]!.body)).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    // ... the client sees neither the usage chunk nor a usage field it did not ask for
    expect(chunks).toHaveLength(3);
    for (const c of chunks) expect(c).not.toHaveProperty('usage');
    expect(chunks.map((c) => (c.choices as { delta: { content: string } }[])[0]!.delta.content).join('')).toBe(
      'w0 w1 w2 ',
    );
    expect(await settledCredits(usage, record.keyId)).toBe(57);
    expect(limiter.budgetUsed(record.limitsKey, record, Date.now())).toBe(57);
  });

  it('a streamed completion that asked for usage gets it, and is charged it', async () => {
    const { key, record } = addKey({ budget: { credits: 1000, period: 'Never' } });
    const stream = await client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks).toHaveLength(4);
    expect(chunks.at(-1)!.usage?.total_tokens).toBe(57);
    expect(await settledCredits(usage, record.keyId)).toBe(57);
  });

  it('tokens per minute are charged the same way', async () => {
    const { key, record } = addKey({ rateLimit: { tokensPerMinute: 100 } });
    for (let i = 0; i < 2; i++) {
      const stream = await client(key).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [],
        stream: true,
        max_tokens: 10,
      });
      for await (const _ of stream);
    }
    await settledCredits(usage, record.keyId);
    await new Promise((r) => setTimeout(r, 20));
    // 2 × 57 reported ≥ 100: the third request in this minute is refused
    const err = await client(key)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('rate_limit_exceeded');
  });
});

describe('budgets', () => {
  it('a budget smaller than one streamed response is exhausted by it: the next request gets 429 insufficient_quota', async () => {
    const { key, record } = addKey({ budget: { credits: 20, period: 'Monthly' } });
    const stream = await client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [],
      stream: true,
      max_tokens: 5,
    });
    for await (const _ of stream);
    expect(await settledCredits(usage, record.keyId)).toBe(57);
    const err = await client(key)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [], stream: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('insufficient_quota');
    expect(upstream.log).toHaveLength(1);
  });

  it('a stream the client cuts short is charged its reservation (max_tokens), never 0 or 1', async () => {
    const { key, record } = addKey({ budget: { credits: 10_000, period: 'Never' } });
    upstream.streamChunks = 20;
    upstream.streamDelayMs = 30;
    const ac = new AbortController();
    const stream = await client(key).chat.completions.create(
      { model: 'gpt-4o-mini', messages: [], stream: true, max_tokens: 300 },
      { signal: ac.signal },
    );
    for await (const _ of stream) {
      ac.abort();
      break;
    }
    expect(await settledCredits(usage, record.keyId)).toBe(300);
    expect(limiter.budgetUsed(record.limitsKey, record, Date.now())).toBe(300);
  });

  it('a client gone before the response headers is charged its reservation: the router got the request', async () => {
    const { key, record } = addKey({ budget: { credits: 10_000, period: 'Never' } });
    upstream.headerDelayMs = 300;
    const ac = new AbortController();
    const pending = client(key).chat.completions.create(
      { model: 'gpt-4o-mini', messages: [], max_tokens: 120 },
      { signal: ac.signal },
    );
    for (let i = 0; i < 200 && upstream.log.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await pending.catch(() => undefined);
    expect(upstream.log).toHaveLength(1);
    expect(await settledCredits(usage, record.keyId)).toBe(120);
    expect(limiter.budgetUsed(record.limitsKey, record, Date.now())).toBe(120);
  });

  it('while a request is in flight its reservation already counts: a second one over the budget is refused', async () => {
    const { key, record } = addKey({ budget: { credits: 100, period: 'Never' } });
    upstream.streamChunks = 5;
    upstream.streamDelayMs = 40;
    const first = await client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [],
      stream: true,
      max_tokens: 150,
    });
    const second = await client(key)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [] })
      .catch((e: unknown) => e);
    expect((second as InstanceType<typeof OpenAI.APIError>).code).toBe('insufficient_quota');
    for await (const _ of first);
    expect(await settledCredits(usage, record.keyId)).toBe(57);
  });
});
