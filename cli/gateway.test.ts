import { describe, expect, it } from 'vitest';
import { gatewayOptionsFromFlags, parseListen, REDIS_URL_ENV, UPSTREAM_KEY_ENV, type GatewayFlags } from './gateway.ts';

const base: GatewayFlags = { upstream: 'http://127.0.0.1:4000', recordsNamespace: 'nemokeys-system' };

describe('parseListen', () => {
  it.each([
    ['0.0.0.0:8000', { host: '0.0.0.0', port: 8000 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    [':8080', { host: '0.0.0.0', port: 8080 }],
    ['9000', { host: '0.0.0.0', port: 9000 }],
    ['[::]:8000', { host: '::', port: 8000 }],
    ['[::1]:1', { host: '::1', port: 1 }],
    ['localhost:443', { host: 'localhost', port: 443 }],
  ])('%s', (text, expected) => {
    expect(parseListen(text)).toEqual(expected);
  });
  it.each(['', 'host', 'host:', '1.2.3.4:70000', '::1:80', 'a:b:c'])('rejects %j', (text) => {
    expect(() => parseListen(text)).toThrow(/--listen .*expected HOST:PORT/);
  });
});

describe('gatewayOptionsFromFlags', () => {
  it('fills defaults for the minimal Kubernetes invocation', () => {
    const o = gatewayOptionsFromFlags(base, {});
    expect(o).toMatchObject({
      recordsNamespace: 'nemokeys-system',
      listen: { host: '0.0.0.0', port: 8000 },
      metricsPort: 9090,
      trustedProxies: [],
      perKeyLabels: true,
      logLevel: 'info',
      reportIntervalMs: 10_000,
      upstreamAuthorization: undefined,
      defaultReservationTokens: 256,
      passThroughRoutes: [],
      streamUsage: true,
    });
    expect(o.upstream?.toString()).toBe('http://127.0.0.1:4000/');
    expect(o.recordsDir).toBeUndefined();
  });

  it('passes every flag through', () => {
    const o = gatewayOptionsFromFlags(
      {
        upstream: 'https://router.internal/v1',
        recordsDir: '/records',
        listen: '127.0.0.1:8001',
        metricsPort: '0',
        redis: 'redis://:pw@redis:6379/1',
        trustedProxies: '10.0.0.0/8, fd00::/8',
        perKeyLabels: false,
        gatewayId: ' gw-1 ',
        logLevel: 'debug',
        reportInterval: '1m',
        defaultReservation: '1000',
        maxMultipartBytes: '1048576',
        passThroughRoutes: '/v1/messages, /rerank',
        streamUsage: false,
      },
      { [UPSTREAM_KEY_ENV]: 'sk-router' },
    );
    expect(o).toMatchObject({
      recordsDir: '/records',
      listen: { host: '127.0.0.1', port: 8001 },
      metricsPort: 0,
      redis: 'redis://:pw@redis:6379/1',
      trustedProxies: ['10.0.0.0/8', 'fd00::/8'],
      perKeyLabels: false,
      gatewayId: 'gw-1',
      logLevel: 'debug',
      reportIntervalMs: 60_000,
      upstreamAuthorization: 'Bearer sk-router',
      defaultReservationTokens: 1000,
      maxMultipartBytes: 1_048_576,
      passThroughRoutes: ['/v1/messages', '/rerank'],
      streamUsage: false,
    });
    expect(o.recordsNamespace).toBeUndefined();
  });

  it('takes the Redis URL from the environment unless --redis is given', () => {
    expect(gatewayOptionsFromFlags(base, { [REDIS_URL_ENV]: 'redis://:pw@r:6379' }).redis).toBe('redis://:pw@r:6379');
    expect(
      gatewayOptionsFromFlags({ ...base, redis: 'redis://other' }, { [REDIS_URL_ENV]: 'redis://:pw@r:6379' }).redis,
    ).toBe('redis://other');
    expect(gatewayOptionsFromFlags(base, { [REDIS_URL_ENV]: '' }).redis).toBeUndefined();
    expect(() => gatewayOptionsFromFlags(base, { [REDIS_URL_ENV]: 'r:6379' })).toThrow(
      /\$NEMOKEYS_REDIS_URL: expected a redis:\/\//,
    );
  });

  it.each<[string, GatewayFlags, RegExp]>([
    ['no upstream', { recordsNamespace: 'ns' }, /--upstream URL is required/],
    ['upstream not a URL', { ...base, upstream: 'router:4000x' }, /--upstream .*(not a URL|http)/],
    ['upstream not http', { ...base, upstream: 'ftp://router' }, /--upstream ftp:\/\/router: must be an http/],
    ['no record source', { upstream: base.upstream }, /--records-namespace NS .* or --records-dir DIR/],
    ['both record sources', { ...base, recordsDir: '/x' }, /exclusive/],
    ['bad namespace', { ...base, recordsNamespace: 'Bad_NS' }, /--records-namespace Bad_NS: not a valid namespace/],
    [
      'kubeconfig without kubernetes',
      { upstream: base.upstream, recordsDir: '/x', kubeconfig: '/k' },
      /--kubeconfig is only used with --records-namespace/,
    ],
    ['bad listen', { ...base, listen: 'nope' }, /--listen nope/],
    ['bad metrics port', { ...base, metricsPort: '99999' }, /--metrics-port 99999: expected a port/],
    ['metrics on the listen port', { ...base, listen: ':9000', metricsPort: '9000' }, /own port/],
    ['bad proxy CIDR', { ...base, trustedProxies: '10.0.0.0/8,10.0.0.300' }, /--trusted-proxies: .*10\.0\.0\.300/],
    ['bad redis URL', { ...base, redis: 'localhost:6379' }, /--redis: expected a redis:\/\//],
    ['bad log level', { ...base, logLevel: 'loud' }, /--log-level loud: expected one of/],
    ['bad report interval', { ...base, reportInterval: '10' }, /--report-interval 10/],
    ['empty gateway id', { ...base, gatewayId: '  ' }, /--gateway-id must not be empty/],
    [
      'zero reservation',
      { ...base, defaultReservation: '0' },
      /--default-reservation 0: expected a whole number above 0/,
    ],
    [
      'bad multipart bound',
      { ...base, maxMultipartBytes: '10MB' },
      /--max-multipart-bytes 10MB: expected a whole number/,
    ],
    [
      'pass-through route not a path',
      { ...base, passThroughRoutes: 'messages' },
      /--pass-through-routes: "messages" is not a path/,
    ],
  ])('%s → a message naming the flag', (_label, flags, message) => {
    expect(() => gatewayOptionsFromFlags(flags, {})).toThrow(message);
  });
});

describe('nemokeys gateway (process)', () => {
  it('starts from flags, becomes ready, and exits 0 after draining on SIGTERM', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join, resolve } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'nemokeys-cli-gw-'));
    const bin = resolve(import.meta.dirname, '..', 'bin', 'nemokeys.js');
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        bin,
        'gateway',
        '--upstream',
        'http://127.0.0.1:1',
        '--records-dir',
        dir,
        '--listen',
        '127.0.0.1:0',
        '--metrics-port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await expect.poll(() => out, { timeout: 20_000, interval: 50 }).toMatch(/gateway listening/);
      const line = JSON.parse(out.split('\n').find((l) => l.includes('gateway listening'))!) as {
        url: string;
        metricsUrl: string;
      };
      expect((await fetch(`${line.metricsUrl}/readyz`)).status).toBe(200);
      // No key at all: the gateway answers itself, in the OpenAI error shape.
      const res = await fetch(`${line.url}/v1/models`);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { type: 'authentication_error' } });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toMatch(/gateway stopped/);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
