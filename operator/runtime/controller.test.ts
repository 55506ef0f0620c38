import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { runController } from './controller.ts';
import { createLogger } from './log.ts';
import { createOperatorMetrics } from './metrics.ts';
import type { Reconciler, ReconcileResult } from './types.ts';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function setup(reconcile: (key: string) => Promise<ReconcileResult>, workers = 1) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  const log = createLogger({ level: 'debug', destination });
  const metrics = createOperatorMetrics({ processMetrics: false });
  const reconciler: Reconciler = { name: 'test', reconcile };
  const c = runController(reconciler, { log, metrics }, { workers });
  const count = async (result: string) =>
    (await metrics.reconcileTotal.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { c, lines, metrics, count };
}

describe('runController', () => {
  it.each([
    { name: 'success', result: {}, label: 'success', again: false },
    { name: 'requeueAfterMs schedules a recheck', result: { requeueAfterMs: 1000 }, label: 'requeue', again: true },
  ])('$name', async ({ result, label, again }) => {
    const calls: string[] = [];
    const { c, count } = setup(async (key) => {
      calls.push(key);
      return result;
    });
    c.enqueue('ns/a');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['ns/a']);
    expect(await count(label)).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(again ? 2 : 1);
    await c.stop();
  });

  it('retries a failing key with growing backoff, counts errors, and logs one line without the object', async () => {
    const times: number[] = [];
    let fail = 3;
    const { c, lines, metrics, count } = setup(async () => {
      times.push(Date.now());
      if (fail-- > 0) throw Object.assign(new Error('HTTP-Code: 500\nHeaders: {"x":"y"}'), { statusCode: 500 });
      return {};
    });
    const t0 = Date.now();
    c.enqueue('ns/a');
    await vi.advanceTimersByTimeAsync(100);
    expect(times.map((t) => t - t0)).toEqual([0, 5, 15, 35]);
    expect(await count('error')).toBe(3);
    expect(await count('success')).toBe(1);
    expect((await metrics.reconcileErrors.get()).values[0]?.value).toBe(3);
    const errs = lines.filter((l) => l.msg === 'reconcile failed; retrying');
    expect(errs.map((l) => l.retryInMs)).toEqual([5, 10, 20]);
    expect(errs[0]).toMatchObject({ controller: 'test', key: 'ns/a', level: 'error' });
    expect(String(errs[0]!.error)).not.toContain('\n');
    // Success reset the backoff: the next failure starts at 5 ms again.
    fail = 1;
    c.enqueue('ns/a');
    await vi.advanceTimersByTimeAsync(0);
    expect(c.queue.numRequeues('ns/a')).toBe(1);
    await c.stop();
  });

  it('never reconciles one key concurrently, but runs different keys in parallel', async () => {
    let active = new Map<string, number>();
    let maxSameKey = 0;
    let maxParallel = 0;
    const calls: string[] = [];
    const { c } = setup(async (key) => {
      calls.push(key);
      active.set(key, (active.get(key) ?? 0) + 1);
      maxSameKey = Math.max(maxSameKey, active.get(key)!);
      maxParallel = Math.max(
        maxParallel,
        [...active.values()].reduce((a, b) => a + b, 0),
      );
      await new Promise((r) => setTimeout(r, 100));
      active.set(key, active.get(key)! - 1);
      return {};
    }, 4);
    c.enqueue('a');
    c.enqueue('b');
    await vi.advanceTimersByTimeAsync(10);
    c.enqueue('a'); // while a is in flight: must wait, and run once more
    c.enqueue('a');
    await vi.advanceTimersByTimeAsync(500);
    expect(maxSameKey).toBe(1);
    expect(maxParallel).toBe(2);
    expect(calls).toEqual(['a', 'b', 'a']);
    active = new Map();
    await c.stop();
  });

  it('stop() waits for the reconcile in flight', async () => {
    let finished = false;
    const { c } = setup(async () => {
      await new Promise((r) => setTimeout(r, 1000));
      finished = true;
      return {};
    });
    c.enqueue('k');
    await vi.advanceTimersByTimeAsync(1);
    let stopped = false;
    const s = c.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(500);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    await s;
    expect(finished).toBe(true);
  });

  it('reports the queue depth metric', async () => {
    let release!: () => void;
    const { c, metrics } = setup(
      () =>
        new Promise((r) => {
          release = () => r({});
        }),
    );
    for (const k of ['a', 'b', 'c']) c.enqueue(k);
    await vi.advanceTimersByTimeAsync(0);
    const text = await metrics.registry.metrics();
    expect(text).toContain('nemokeys_operator_workqueue_depth{controller="test"} 2');
    release();
    await vi.advanceTimersByTimeAsync(0);
    release();
    await vi.advanceTimersByTimeAsync(0);
    release();
    await c.stop();
  });
});

describe('runController startAfter', () => {
  it('queues keys but reconciles nothing until the gate opens', async () => {
    const calls: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const log = createLogger({ level: 'silent' });
    const metrics = createOperatorMetrics({ processMetrics: false });
    const c = runController(
      {
        name: 'gated',
        reconcile: async (k) => {
          calls.push(k);
          return {};
        },
      },
      { log, metrics },
      { workers: 2, startAfter: gate },
    );
    c.enqueue('a');
    c.enqueue('b');
    c.enqueue('a');
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toEqual([]);
    expect(c.queue.depth).toBe(2);
    open();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.sort()).toEqual(['a', 'b']);
    await c.stop();
  });
});
