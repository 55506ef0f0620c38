// How the API server's write throughput grows with requests in flight, to choose the operator's
// worker count (operator/runtime/concurrency.ts) from a measurement:
//   npx node bench/operator-concurrency.ts          # env: LEVELS=1,2,4,8,16,32,64,128 CEILING_MS=4000 ROUNDS=2
// A fresh control plane of its own; small Secret creates at each concurrency, levels interleaved
// round after round so drifting load from other tenants hits them alike; the median per level.
import { loadavg } from 'node:os';
import { CoreV1Api } from '@kubernetes/client-node';
import { writeCeiling } from './operator-ceiling.ts';
import { startBenchEnv } from './operator-env.ts';

const LEVELS = (process.env.LEVELS ?? '1,2,4,8,16,32,64,128').split(',').map(Number);
const CEILING_MS = Number(process.env.CEILING_MS ?? 4000);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const env = await startBenchEnv(() => {});
try {
  await env.kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'bench-ceiling' } } });
  const samples = new Map<number, number[]>(LEVELS.map((l) => [l, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const level of LEVELS) {
      const c = await writeCeiling(env.kc, 'bench-ceiling', level, CEILING_MS);
      samples.get(level)!.push(c.writesPerSecond);
      process.stdout.write(
        `round ${r + 1} concurrency ${String(level).padStart(3)}: ${c.writesPerSecond.toFixed(0)} creates/s; load ${load()}\n`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows = LEVELS.map((l) => ({ concurrency: l, writesPerSecond: Math.round(median(samples.get(l)!)) }));
  process.stdout.write(`${JSON.stringify({ bench: 'operator-concurrency', loadAverage: load(), rows })}\n`);
} finally {
  await env.cp.stop();
}
