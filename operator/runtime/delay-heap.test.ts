import { describe, expect, it } from 'vitest';
import { DelayHeap } from './delay-heap.ts';

describe('DelayHeap', () => {
  it('pops due keys earliest first and keeps the rest', () => {
    const h = new DelayHeap();
    for (const [k, at] of [
      ['c', 30],
      ['a', 10],
      ['d', 40],
      ['b', 20],
    ] as const)
      h.set(k, at);
    expect(h.earliest()).toBe(10);
    expect(h.popDue(25)).toEqual(['a', 'b']);
    expect(h.size).toBe(2);
    expect(h.earliest()).toBe(30);
    expect(h.popDue(100)).toEqual(['c', 'd']);
    expect(h.earliest()).toBeUndefined();
  });

  it('moves a key earlier or later in place (one entry per key)', () => {
    const h = new DelayHeap();
    h.set('a', 10);
    h.set('b', 20);
    h.set('b', 5);
    expect(h.size).toBe(2);
    expect(h.deadline('b')).toBe(5);
    h.set('b', 50);
    expect(h.popDue(20)).toEqual(['a']);
    expect(h.popDue(60)).toEqual(['b']);
  });

  it('agrees with a sort over random deadlines and updates', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const h = new DelayHeap();
    const want = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const key = `k${rand(800)}`;
      const at = rand(100_000);
      h.set(key, at);
      want.set(key, at);
    }
    const popped: Array<[string, number]> = [];
    for (let now = 0; now <= 100_000; now += 997) for (const k of h.popDue(now)) popped.push([k, want.get(k)!]);
    expect(popped.length).toBe(want.size);
    expect(popped.map(([, at]) => at)).toEqual(popped.map(([, at]) => at).sort((a, b) => a - b));
    expect(new Set(popped.map(([k]) => k))).toEqual(new Set(want.keys()));
  });
});
