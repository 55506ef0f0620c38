import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { KeyRecord } from '../api/record.ts';
import { buildApp } from '../gateway/app.ts';
import { RedisLimiter } from '../gateway/limits/redis.ts';
import { RecordStore } from '../gateway/records/store.ts';
import { UsageTracker } from '../gateway/usage/tracker.ts';
import { requireRedis, startRedis, type RedisProcess } from './support/redis.ts';
import { startUpstream, type TestUpstream } from './support/upstream.ts';
import { makeKeyAndRecord, type RecordOverrides } from '../gateway/sources/testing.ts';

// Two gateway processes' worth of state (two apps, two Redis connections, two limiters) sharing ONE
// real Redis enforce one rate limit and one budget exactly. Records come from the operator's renderer.

const haveRedis = requireRedis();
const NOW = Date.now();

describe.skipIf(!haveRedis)('shared Redis limiter', () => {
  let redis: RedisProcess;
  let upstream: TestUpstream;
  const limiters: RedisLimiter[] = [];
  const apps: ReturnType<typeof buildApp>[] = [];
  const records = [new RecordStore(), new RecordStore()];
  let n = 0;
  /** What the usage reports say was spent per limitsKey (the gateways' SpendLedger in production). */
  const reported = new Map<string, number>();

  beforeAll(async () => {
    redis = await startRedis();
    upstream = await startUpstream();
    for (const store of records) {
      store.replaceAll([]);
      const limiter = await RedisLimiter.connect(redis.url, { baseline: (lk) => reported.get(lk) ?? 0 });
      limiters.push(limiter);
      // one fixed instant: no minute or month boundary can split a test's requests into two windows
      apps.push(
        buildApp({ records: store, usage: new UsageTracker(), upstream: upstream.url, limiter, clock: () => NOW }),
      );
    }
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    for (const l of limiters) await l.close();
    await upstream?.close();
    await redis?.stop();
  });

  /** One ApiKey, known to both gateways. */
  function key(limits: Pick<RecordOverrides, 'rateLimit' | 'budget'>): { key: string; record: KeyRecord } {
    const kr = makeKeyAndRecord({ ...limits, limitsKey: `uid-${n++}` });
    for (const s of records) s.upsert(kr.record);
    return kr;
  }
  const call = (i: number, k: string) =>
    apps[i % 2]!.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
      payload: '{"model":"gpt-4o-mini","messages":[]}',
    });

  it('10/min → exactly 10 of 30 concurrent, interleaved requests pass', async () => {
    const { key: k } = key({ rateLimit: { requestsPerMinute: 10 } });
    const codes = await Promise.all(Array.from({ length: 30 }, (_, i) => call(i, k).then((r) => r.statusCode)));
    expect(codes.filter((c) => c === 200)).toHaveLength(10);
    expect(codes.filter((c) => c === 429)).toHaveLength(20);
  });

  it('one budget: 20 credits at 7 per request → exactly 3 requests, whichever gateway serves them', async () => {
    const { key: k, record } = key({ budget: { credits: 20, period: 'Monthly' } });
    const probe = new Redis(redis.url);
    const used = async () => {
      const [budgetKey] = await probe.keys(`nemokeys:{${record.limitsKey}}:credits:*`);
      return budgetKey === undefined ? 0 : Number(await probe.hget(budgetKey, 'c'));
    };
    const codes: number[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const code = (await call(i, k)).statusCode;
        codes.push(code);
        // the charge is sent once the response is done: wait for it instead of guessing a delay
        const expected = 7 * codes.filter((c) => c === 200).length;
        for (let t = 0; t < 200 && (await used()) !== expected; t++) await new Promise((r) => setTimeout(r, 10));
      }
      expect(await used()).toBe(21);
    } finally {
      probe.disconnect();
    }
    expect(codes).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
  });

  it('tokens per minute: admitted while tokens used this minute (charged by either gateway) are below the limit', async () => {
    const { key: k, record } = key({ rateLimit: { tokensPerMinute: 10 } });
    const probe = new Redis(redis.url);
    const tokens = async () => {
      const keys = await probe.keys(`nemokeys:{${record.limitsKey}}:rate:*`);
      return keys[0] === undefined ? 0 : Number((await probe.hget(keys[0], 't')) ?? 0);
    };
    const codes: number[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        codes.push((await call(i, k)).statusCode);
        const expected = 7 * codes.filter((c) => c === 200).length;
        for (let t = 0; t < 200 && (await tokens()) !== expected; t++) await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      probe.disconnect();
    }
    expect(codes).toEqual([200, 200, 429, 429]);
  });

  it('two key ids of one ApiKey share the counters (limitsKey)', async () => {
    const a = key({ rateLimit: { requestsPerMinute: 3 } });
    const b = makeKeyAndRecord({ rateLimit: { requestsPerMinute: 3 }, limitsKey: a.record.limitsKey });
    for (const s of records) s.upsert(b.record);
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await call(i, i % 2 ? b.key : a.key)).statusCode);
    expect(codes).toEqual([200, 200, 200, 429, 429, 429]);
  });

  it('every counter key expires', async () => {
    const probe = new Redis(redis.url);
    try {
      const keys = await probe.keys('nemokeys:*');
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys) expect(await probe.ttl(k)).toBeGreaterThan(0);
    } finally {
      probe.disconnect();
    }
  });

  it('a budget counter Redis lost is seeded once from the reports: the budget stays exhausted', async () => {
    const { key: k, record } = key({ budget: { credits: 40, period: 'Monthly' } });
    reported.set(record.limitsKey, 35); // spent before Redis lost its data, as the reports know it
    const probe = new Redis(redis.url);
    try {
      expect((await call(0, k)).statusCode).toBe(200); // 35 < 40: one more request
      const [budgetKey] = await probe.keys(`nemokeys:{${record.limitsKey}}:credits:*`);
      await expect
        .poll(async () => Number(await probe.hget(budgetKey!, 'c')), { timeout: 2000, interval: 10 })
        .toBe(42);
      // the other gateway finds the counter seeded: it does not add the reports' 35 again
      expect((await call(1, k)).statusCode).toBe(429);
      expect(Number(await probe.hget(budgetKey!, 'c'))).toBe(42);
      // Redis loses everything (restart without persistence): the next admission seeds again
      await probe.flushall();
      reported.set(record.limitsKey, 42);
      expect((await call(1, k)).statusCode).toBe(429);
      expect(await probe.hgetall(budgetKey!)).toEqual({ c: '42', s: '1' });
    } finally {
      probe.disconnect();
    }
  });

  it('reserve, then settle, on the shared counters: a reservation weighs on both gateways until it settles', async () => {
    const { record } = key({
      budget: { credits: 100, period: 'Never' },
      rateLimit: { requestsPerMinute: 2, tokensPerMinute: 1000 },
    });
    const [a, b] = limiters as [RedisLimiter, RedisLimiter];
    const first = await a.admit(record.limitsKey, record, 150, NOW);
    if (!first.ok) throw new Error('the first request must be admitted');
    // in flight: its 150 reserved credits already exhaust the budget, for the other replica too
    expect(await b.admit(record.limitsKey, record, 1, NOW)).toMatchObject({ ok: false, reason: 'budget' });
    await a.settle(record.limitsKey, record, first.reservation, { cost: 30, refundRequest: false }, NOW + 5);
    const second = await b.admit(record.limitsKey, record, 10, NOW);
    expect(second.ok).toBe(true);
    if (!second.ok) return;
    // the gateway's own 502: nothing spent, the request slot comes back
    await b.settle(record.limitsKey, record, second.reservation, { cost: 0, refundRequest: true }, NOW + 5);
    expect((await a.admit(record.limitsKey, record, 0, NOW)).ok).toBe(true);
    const r = new Redis(redis.url);
    try {
      const keys = await r.keys(`nemokeys:{${record.limitsKey}}:*`);
      const budgetKey = keys.find((k) => k.includes(':credits:'))!;
      const rateKey = keys.find((k) => k.includes(':rate:'))!;
      expect(Number(await r.hget(budgetKey, 'c'))).toBe(30);
      expect(await r.hgetall(rateKey)).toEqual({ r: '2', t: '30' });
    } finally {
      r.disconnect();
    }
  });

  it('fails closed with 503 when Redis is gone', async () => {
    const { key: k } = key({ rateLimit: { requestsPerMinute: 100 } });
    await redis.stop();
    const r = await call(0, k);
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ error: { code: 'limiter_unavailable' } });
  });
});
