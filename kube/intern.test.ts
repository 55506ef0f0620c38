import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { StringPool } from './intern.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** An equal but distinct string (V8 does not dedupe strings made at run time on its own). */
const fresh = (s: string) => [...s].join('');

/** Bytes of heap that `n` cached objects built by `make` keep alive. */
function retained(n: number, make: (i: number) => object): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = Array.from({ length: n }, (_, i) => make(i));
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  expect(kept.length).toBe(n);
  return bytes;
}

describe('StringPool', () => {
  it('keeps one copy of a value shared by many cached objects', () => {
    const reason = 'no predecessor key id is waiting for hand-off';
    const object = () => ({ reason: fresh(reason), namespace: fresh('bench-keys-namespace') });
    const pool = new StringPool();
    const plain = retained(20_000, object);
    const pooled = retained(20_000, () => pool.internValues(object()));
    // Two strings of 40–64 bytes each per object are gone: ≥ 1.5 MiB of 20 000 objects.
    expect(plain - pooled).toBeGreaterThan(1.5 * 2 ** 20);
  });

  it('interns in place and deep, leaving payloads, resource versions, uids, Dates and long strings', () => {
    const pool = new StringPool();
    const long = 'x'.repeat(200);
    const make = () => ({
      metadata: { namespace: fresh('ns'), resourceVersion: fresh('12'), uid: fresh('u-1'), labels: { a: fresh('b') } },
      data: { 'api-key': fresh('c2VjcmV0') },
      status: { conditions: [{ reason: fresh('Issued'), lastTransitionTime: new Date(0) }], note: long },
      list: [fresh('x'), 1, null],
    });
    const first = pool.internValues(make());
    const second = pool.internValues(make());
    expect(second).toEqual(first);
    expect(second).toEqual(make());
    expect(second.status.conditions[0]!.lastTransitionTime).toBeInstanceOf(Date);
    // Only the short shared values went into the pool: ns, b, Issued, x.
    expect(pool.size).toBe(4);
  });

  it('is bounded: one-off strings (uids, key ids) age out, at most two generations are held', () => {
    const pool = new StringPool(100);
    for (let i = 0; i < 10_000; i++) pool.intern(`one-off-${i}`);
    expect(pool.size).toBeLessThanOrEqual(200);
  });
});
