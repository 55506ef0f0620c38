import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, WorkQueue } from './workqueue.ts';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** Takes every key that is ready right now, without waiting. */
async function drainReady(q: WorkQueue): Promise<string[]> {
  const out: string[] = [];
  while (q.depth > 0) out.push((await q.get())!);
  return out;
}

describe('WorkQueue', () => {
  it.each([
    { name: 'dedupes keys that are queued', ops: ['a', 'b', 'a', 'a', 'c'], want: ['a', 'b', 'c'] },
    { name: 'keeps FIFO order', ops: ['c', 'b', 'a'], want: ['c', 'b', 'a'] },
    { name: 'empty queue', ops: [], want: [] },
  ])('$name', async ({ ops, want }) => {
    const q = new WorkQueue();
    for (const k of ops) q.add(k);
    expect(q.depth).toBe(want.length);
    expect(await drainReady(q)).toEqual(want);
  });

  it('never hands one key to two workers; a key re-added while processing is queued again after done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.depth).toBe(0); // not handed out again while in flight
    q.add('b');
    expect(await drainReady(q)).toEqual(['b']);
    q.done('b');
    q.done('a');
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.depth).toBe(0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const q = new WorkQueue();
    const got = q.get();
    let value: string | undefined;
    void got.then((k) => {
      value = k;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(value).toBeUndefined();
    q.add('x');
    expect(await got).toBe('x');
  });

  it.each([
    {
      name: 'later deadline does not postpone an earlier one',
      calls: [
        ['k', 100],
        ['k', 500],
      ],
      readyAt: 100,
    },
    {
      name: 'earlier deadline replaces a later one',
      calls: [
        ['k', 500],
        ['k', 100],
      ],
      readyAt: 100,
    },
    { name: 'zero delay adds at once', calls: [['k', 0]], readyAt: 0 },
  ] as Array<{ name: string; calls: Array<[string, number]>; readyAt: number }>)(
    'addAfter: $name',
    async ({ calls, readyAt }) => {
      const q = new WorkQueue();
      for (const [k, ms] of calls) q.addAfter(k, ms);
      if (readyAt > 0) {
        await vi.advanceTimersByTimeAsync(readyAt - 1);
        expect(q.depth).toBe(0);
        await vi.advanceTimersByTimeAsync(1);
      }
      expect(q.depth).toBe(1);
      expect(await drainReady(q)).toEqual(['k']);
      // The replaced timer must not fire a second time.
      await vi.advanceTimersByTimeAsync(1000);
      expect(q.depth).toBe(0);
      expect(q.pendingDelayed).toBe(0);
    },
  );

  it('addAfter beyond the 2^31-1 ms setTimeout limit waits the full delay (no 1 ms overflow loop)', async () => {
    const q = new WorkQueue();
    const ninetyDays = 90 * 86_400_000;
    expect(ninetyDays).toBeGreaterThan(MAX_TIMER_MS);
    q.addAfter('far', ninetyDays);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.depth).toBe(0);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(q.depth).toBe(0);
    expect(q.pendingDelayed).toBe(1);
    await vi.advanceTimersByTimeAsync(ninetyDays - MAX_TIMER_MS - 2);
    expect(q.depth).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(await drainReady(q)).toEqual(['far']);
    expect(q.pendingDelayed).toBe(0);
  });

  it('an earlier addAfter replaces a chained long wait, whose later segments never fire', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 3 * MAX_TIMER_MS);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS + 10); // now in the second segment
    q.addAfter('k', 100);
    await vi.advanceTimersByTimeAsync(100);
    expect(await drainReady(q)).toEqual(['k']);
    q.done('k');
    await vi.advanceTimersByTimeAsync(3 * MAX_TIMER_MS);
    expect(q.depth).toBe(0);
    expect(q.pendingDelayed).toBe(0);
  });

  it('backs off per key exponentially from 5 ms, caps at 1000 s, and forget() resets it', async () => {
    const q = new WorkQueue();
    const delays = Array.from({ length: 20 }, () => q.addRateLimited('bad'));
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    expect(delays.at(-1)).toBe(1_000_000);
    expect(Math.max(...delays)).toBe(1_000_000);
    expect(q.numRequeues('bad')).toBe(20);
    // Another key's failures are independent.
    expect(q.addRateLimited('other')).toBe(5);
    q.forget('bad');
    expect(q.numRequeues('bad')).toBe(0);
    expect(q.addRateLimited('bad')).toBe(5);
  });

  it('a failed key comes back after its backoff delay', async () => {
    const q = new WorkQueue();
    q.add('k');
    const k = (await q.get())!;
    q.addRateLimited(k); // 5 ms
    q.addRateLimited(k); // 10 ms: the earlier 5 ms deadline still wins
    q.done(k);
    await vi.advanceTimersByTimeAsync(4);
    expect(q.depth).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.depth).toBe(1);
  });

  it('shutdown() waits for in-flight keys, drops queued and delayed ones, and releases waiting workers', async () => {
    const q = new WorkQueue();
    q.add('busy');
    q.add('queued');
    q.addAfter('later', 1000);
    const busy = (await q.get())!;
    let finished = false;
    const shut = q.shutdown().then(() => {
      finished = true;
    });
    expect(await q.get()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2000);
    expect(finished).toBe(false);
    expect(q.depth).toBe(0);
    q.add('ignored');
    expect(q.depth).toBe(0);
    q.done(busy);
    await shut;
    expect(finished).toBe(true);
  });
});
