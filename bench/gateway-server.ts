import type { AddressInfo } from 'node:net';
import { buildApp } from '../gateway/app.ts';
import { MemoryLimiter } from '../gateway/limits/memory.ts';
import { GatewayMetrics } from '../gateway/metrics.ts';
import { RecordStore } from '../gateway/records/store.ts';
import { makeKeyAndRecord } from '../gateway/sources/testing.ts';
import { UsageTracker } from '../gateway/usage/tracker.ts';

// Benchmark gateway (its own process): N key records loaded, every check switched on for the key
// under test (IP allowlist, endpoint and model scopes, rate limit, token limit, budget), metrics on,
// logging off. Prints "<port> <key>" for the parent.
const upstreamPort = Number(process.argv[2]);
const keyCount = Number(process.argv[3] ?? 10_000);

const records = new RecordStore();
const all = [];
for (let i = 0; i < keyCount - 1; i++) all.push(makeKeyAndRecord({ limitsKey: `bench/${i}` }).record);
const { key, record } = makeKeyAndRecord({
  limitsKey: 'bench/under-test',
  scopes: {
    models: ['gpt-4o', 'gpt-4o-mini'],
    endpoints: ['/chat/completions', '/embeddings'],
    ipAllowlist: ['10.0.0.0/8', '127.0.0.0/8', '::1'],
  },
  rateLimit: { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000 },
  budget: { credits: 1_000_000_000_000, period: 'Monthly' },
});
all.push(record);
records.replaceAll(all);

const app = buildApp({
  records,
  usage: new UsageTracker(),
  upstream: new URL(`http://127.0.0.1:${upstreamPort}`),
  limiter: new MemoryLimiter(),
  metrics: new GatewayMetrics(),
});
await app.listen({ port: 0, host: '127.0.0.1' });
app.server.keepAliveTimeout = 60_000;
process.stdout.write(`${(app.server.address() as AddressInfo).port} ${key}\n`);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(0)); // exit() flushes --cpu-prof
