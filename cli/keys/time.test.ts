import { describe, expect, it } from 'vitest';
import { absoluteAndRelative, compactSpan, relativeTime } from './time.ts';
import { DAY, HOUR, MIN, NOW, at } from './testing.ts';

describe('compactSpan', () => {
  it.each([
    [0, '0s'],
    [59_999, '59s'],
    [60_000, '1m'],
    [59 * MIN, '59m'],
    [HOUR, '1h'],
    [47 * HOUR + 59 * MIN, '47h'],
    [48 * HOUR, '2d'],
    [400 * DAY, '400d'],
    [-5 * MIN, '5m'],
  ])('%i ms → %s', (ms, text) => expect(compactSpan(ms)).toBe(text));
});

describe('relativeTime', () => {
  it.each([
    [at(-5 * MIN), '5m ago'],
    [at(3 * DAY), 'in 3d'],
    [at(0), '0s ago'],
    [undefined, undefined],
    ['not a time', undefined],
  ])('%s → %s', (iso, text) => expect(relativeTime(iso, NOW)).toBe(text));

  it('keeps the absolute time for describe', () => {
    expect(absoluteAndRelative(at(2 * HOUR), NOW)).toBe(`${at(2 * HOUR)} (in 2h)`);
    expect(absoluteAndRelative(undefined, NOW)).toBeUndefined();
  });
});
