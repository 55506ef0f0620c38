// The API server's own write ceiling, measured in the same run as the operator: small Secret creates
// (the operator's most common write) from one client with `concurrency` requests in flight — the
// operator's worker count — for a fixed time after a short warm-up. The operator can at best issue
// ceiling ÷ writes-per-key keys per second; bench/operator.ts reports its keys/s as a fraction of that.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

export interface Ceiling {
  writesPerSecond: number;
  writes: number;
  seconds: number;
  concurrency: number;
}

let runs = 0;

export async function writeCeiling(
  kc: KubeConfig,
  namespace: string,
  concurrency: number,
  ms: number,
  warmupMs = 1_000,
): Promise<Ceiling> {
  const core = kc.makeApiClient(CoreV1Api);
  const run = runs++;
  let next = 0;
  let counted = 0;
  const countFrom = performance.now() + warmupMs;
  const stopAt = countFrom + ms;
  const worker = async () => {
    while (performance.now() < stopAt) {
      await core.createNamespacedSecret({
        namespace,
        body: {
          metadata: { name: `ceiling-${run}-${next++}` },
          type: 'Opaque',
          data: { k: Buffer.from('0123456789abcdef').toString('base64') },
        },
      });
      if (performance.now() >= countFrom) counted++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - countFrom) / 1000;
  return { writesPerSecond: counted / seconds, writes: counted, seconds, concurrency };
}
