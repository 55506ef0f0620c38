import { describe, expect, it } from 'vitest';
import { limiter } from './limiter.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('limiter', () => {
  it('runs at most n tasks at once, the rest in order of arrival, and passes results and errors on', async () => {
    const limit = limiter(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const release: Array<() => void> = [];
    const task = (i: number) => () =>
      new Promise<number>((resolve, reject) => {
        active++;
        peak = Math.max(peak, active);
        order.push(i);
        release.push(() => {
          active--;
          if (i === 3) reject(new Error('task 3 failed'));
          else resolve(i * 10);
        });
      });
    const results = [0, 1, 2, 3, 4].map((i) => limit(task(i)).catch((e: Error) => e.message));
    await tick();
    expect(order).toEqual([0, 1]);
    while (release.length > 0) {
      release.shift()!();
      await tick();
    }
    expect(await Promise.all(results)).toEqual([0, 10, 20, 'task 3 failed', 40]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => limiter(0)).toThrow(/positive integer/);
  });
});
