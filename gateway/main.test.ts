import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyRecord } from '../api/record.ts';
import { startDemoUpstream, type DemoUpstream } from './demo-upstream.ts';
import { redactUrl, runGateway, type RunningGateway } from './main.ts';
import { makeKeyAndRecord } from './sources/testing.ts';
import { capturedLogger } from './testing-log.ts';
import { requireRedis, startRedis } from '../test/support/redis.ts';

// runGateway in directory mode, end to end over real sockets: the record source, the request path,
// the metrics server and the graceful stop, wired as `nemokeys gateway --records-dir` wires them.

function connectResult(url: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(u.port), u.hostname);
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

function writeRecord(dir: string, record: KeyRecord) {
  const tmp = join(dir, `.${record.keyId}.tmp`);
  writeFileSync(tmp, JSON.stringify(record));
  renameSync(tmp, join(dir, `${record.keyId}.json`));
}

describe('runGateway with --records-dir', () => {
  let dir: string;
  let upstream: DemoUpstream;
  let gw: RunningGateway;
  const log = capturedLogger();
  const alice = makeKeyAndRecord({ scopes: { models: ['gpt-4o-mini'] } });
  const bob = makeKeyAndRecord();
  const client = (key: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nemokeys-gw-'));
    writeRecord(dir, alice.record);
    writeRecord(dir, bob.record);
    upstream = await startDemoUpstream();
    gw = await runGateway({
      upstream: upstream.url,
      recordsDir: dir,
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      logger: log.logger,
    });
  });
  afterAll(async () => {
    await gw.stop();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves keys from the directory and enforces their scopes', async () => {
    const r = await client(alice.key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.choices[0]?.message.content).toBe('You said: hi');
    await expect(
      client(alice.key).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ status: 403 });
    const unknown = makeKeyAndRecord().key;
    await expect(client(unknown).models.list()).rejects.toMatchObject({ status: 401 });
    expect(gw.usage.snapshot()[alice.record.keyId]?.requests).toBe(1);
  });

  it('revokes a key when its file changes, without a restart', async () => {
    await client(bob.key).models.list();
    writeRecord(dir, { ...bob.record, state: 'Revoked' });
    await expect
      .poll(
        async () => (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${bob.key}` } })).status,
        { timeout: 5000, interval: 50 },
      )
      .toBe(401);
  });

  it('exposes readiness and metrics on the metrics port', async () => {
    const ready = await fetch(`${gw.metricsUrl}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${gw.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/nemokeys_gateway_synced 1/);
    expect(metrics).toMatch(/nemokeys_gateway_records_loaded 2/);
  });

  it('never logs a key', () => {
    expect(log.text().length).toBeGreaterThan(0);
    for (const k of [alice.key, bob.key]) expect(log.text()).not.toContain(k.slice(-20));
  });
});

describe('runGateway shutdown', () => {
  it('finishes in-flight requests, then refuses new connections', async () => {
    // An upstream that holds each response until told to answer.
    const pending: Array<() => void> = [];
    const slow: Server = createServer((_req, res) => {
      pending.push(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}'));
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'nemokeys-gw-'));
    const { key, record } = makeKeyAndRecord();
    writeRecord(dir, record);
    const gw = await runGateway({
      upstream: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`,
      recordsDir: dir,
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      logger: pino({ level: 'silent' }),
    });
    try {
      const inflight = fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      await expect.poll(() => pending.length, { timeout: 5000, interval: 10 }).toBe(1);
      let stopped = false;
      const stopping = gw.stop().then(() => {
        stopped = true;
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(stopped).toBe(false); // still draining the in-flight request
      // A raw connect: fetch's pool would wait for the busy keep-alive connection instead of failing.
      expect(await connectResult(gw.url)).toBe('ECONNREFUSED');
      pending[0]!();
      expect((await inflight).status).toBe(200);
      await stopping;
      expect(stopped).toBe(true);
    } finally {
      await gw.stop();
      slow.closeAllConnections();
      slow.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start without exactly one record source, and with a missing directory', async () => {
    await expect(runGateway({ upstream: 'http://127.0.0.1:1', logger: pino({ level: 'silent' }) })).rejects.toThrow(
      /exactly one record source/,
    );
    await expect(
      runGateway({
        upstream: 'http://127.0.0.1:1',
        recordsDir: '/nonexistent/nemokeys',
        listen: { host: '127.0.0.1', port: 0 },
        metricsPort: 0,
        logger: pino({ level: 'silent' }),
      }),
    ).rejects.toThrow(/--records-dir \/nonexistent\/nemokeys/);
  });

  it('redacts the Redis password in messages', () => {
    expect(redactUrl('redis://user:s3cret@redis:6379/0')).toBe('redis://user:***@redis:6379/0');
    expect(redactUrl('redis://redis:6379')).toBe('redis://redis:6379');
  });
});

describe.skipIf(!requireRedis())('runGateway with --redis', () => {
  it('shares one rate limit between replicas through Redis, and quits Redis on stop', async () => {
    const redis = await startRedis();
    const probe = new Redis(redis.url);
    const clients = async () => (String(await probe.client('LIST')).match(/^id=/gm) ?? []).length;
    const dir = mkdtempSync(join(tmpdir(), 'nemokeys-gw-'));
    const upstream = await startDemoUpstream();
    const { key, record } = makeKeyAndRecord({ rateLimit: { requestsPerMinute: 3 }, limitsKey: `rl-${Date.now()}` });
    writeRecord(dir, record);
    const baseline = await clients();
    const start = () =>
      runGateway({
        upstream: upstream.url,
        recordsDir: dir,
        redis: redis.url,
        listen: { host: '127.0.0.1', port: 0 },
        metricsPort: 0,
        logger: pino({ level: 'silent' }),
      });
    const a = await start();
    const b = await start();
    try {
      const status = async (gw: RunningGateway) =>
        (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status;
      // Per-process counters would allow 3 + 3; one shared counter allows 3 in total.
      expect([await status(a), await status(b), await status(a), await status(b), await status(a)]).toEqual([
        200, 200, 200, 429, 429,
      ]);
      expect(await clients()).toBeGreaterThan(baseline);
    } finally {
      await a.stop();
      await b.stop();
      await expect.poll(clients, { timeout: 5000, interval: 50 }).toBe(baseline);
      probe.disconnect();
      await upstream.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails at start with a clear message and no password when Redis is unreachable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nemokeys-gw-'));
    try {
      const err = await runGateway({
        upstream: 'http://127.0.0.1:1',
        recordsDir: dir,
        redis: 'redis://user:s3cret@127.0.0.1:1/0',
        listen: { host: '127.0.0.1', port: 0 },
        metricsPort: 0,
        logger: pino({ level: 'silent' }),
      }).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/^--redis redis:\/\/user:\*\*\*@127\.0\.0\.1:1\/0: cannot connect/);
      expect((err as Error).message).not.toContain('s3cret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runGateway start failures', () => {
  it('releases what it started when the metrics port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as AddressInfo).port;
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const gatewayPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const dir = mkdtempSync(join(tmpdir(), 'nemokeys-gw-'));
    const opts = {
      upstream: 'http://127.0.0.1:1',
      recordsDir: dir,
      listen: { host: '127.0.0.1', port: gatewayPort },
      logger: pino({ level: 'silent' }),
    };
    try {
      await expect(runGateway({ ...opts, metricsPort: taken })).rejects.toThrow(/EADDRINUSE/);
      // The gateway port opened by the failed start was closed again, so it can be taken now.
      const gw = await runGateway({ ...opts, metricsPort: 0 });
      expect(gw.url).toBe(`http://127.0.0.1:${gatewayPort}`);
      await gw.stop();
    } finally {
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
