// At most `n` tasks in flight, the others wait in order of arrival. For work that leaves the reconcile
// path (audit trail writes): fired and forgotten one per issued key, 10 000 of them at once became
// 10 000 requests queued in the HTTP agent, each holding its request, body and closures.

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function limiter(n: number): Limiter {
  if (!Number.isInteger(n) || n < 1) throw new Error(`limiter: n must be a positive integer, got ${n}`);
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
