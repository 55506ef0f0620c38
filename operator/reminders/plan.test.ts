import { describe, expect, it } from 'vitest';
import { dueMails, nextMailAt, parseMarks, recipients, withMark, type KeyView, type Marks } from './plan.ts';

const DAY = 86_400_000;
const EXP = Date.parse('2026-12-31T00:00:00Z');
const key = (over: Partial<KeyView> = {}): KeyView => ({
  id: 'K1',
  state: 'Active',
  expiresAt: new Date(EXP).toISOString(),
  ...over,
});
const at = (msBeforeExpiry: number) => new Date(EXP - msBeforeExpiry);
const kinds = (keys: KeyView[], marks: Marks, now: Date) =>
  dueMails(keys, marks, now).map((d) => `${d.keyId}:${d.kind}`);

describe('dueMails', () => {
  it.each([
    ['nothing before the 7-day window', 8 * DAY, {}, []],
    ['7-day window open', 7 * DAY, {}, ['K1:7d']],
    ['7d already mailed', 3 * DAY, { K1: ['7d'] }, []],
    ["created inside the 7-day window: that window's mail, once", 3 * DAY, {}, ['K1:7d']],
    ['1-day window open', DAY - 1, { K1: ['7d'] }, ['K1:1d']],
    ['created inside the 1-day window (under a minute left): the 1d mail, not none', 30_000, {}, ['K1:1d']],
    ['overtaken 7d is not sent late', DAY / 2, {}, ['K1:1d']],
    ['at expiry', 0, { K1: ['7d', '1d'] }, ['K1:expired']],
    ['at expiry, reminders never sent: only the at-expiry mail', -1000, {}, ['K1:expired']],
    ['everything mailed', -DAY, { K1: ['7d', '1d', 'expired'] }, []],
    ['a week after expiry: stale, skipped', -8 * DAY, {}, []],
  ] as const)('%s', (_n, before, marks, want) => {
    expect(kinds([key()], marks as Marks, at(before))).toEqual(want);
  });

  it('skips revoked and superseded key ids (a hand-off, not news) and keys that never expire; each key id on its own', () => {
    const keys = [
      key({ id: 'R', state: 'Revoked' }),
      key({ id: 'N', expiresAt: undefined }),
      key({ id: 'S', state: 'Superseded' }),
      key({ id: 'A' }),
      key({ id: 'B' }),
      key({ id: 'E', state: 'Expired' }),
    ];
    expect(kinds(keys, { A: ['1d'] }, at(1000))).toEqual(['B:1d', 'E:1d']);
    expect(kinds(keys, {}, at(-1000))).toEqual(['A:expired', 'B:expired', 'E:expired']);
  });
});

describe('marks', () => {
  it('withMark adds once, keeps kinds ordered, drops key ids that no longer exist', () => {
    const m = withMark({ K1: ['1d'], GONE: ['7d'] }, 'K1', '7d', ['K1', 'K2']);
    expect(m).toEqual({ K1: ['7d', '1d'] });
    expect(withMark(m, 'K1', '7d', ['K1'])).toEqual(m);
  });

  it('parseMarks: unreadable means nothing sent (a mail too many, never one too few)', () => {
    expect(parseMarks('{"K1":["7d","bogus"]}')).toEqual({ K1: ['7d'] });
    expect(parseMarks('nope')).toEqual({});
    expect(parseMarks('[1]')).toEqual({});
    expect(parseMarks(undefined)).toEqual({});
  });
});

describe('recipients', () => {
  it('union of key and team contacts, case-insensitive duplicates once, sorted', () => {
    expect(recipients(['b@x.io', 'A@x.io'], ['a@x.io', 'c@x.io'])).toEqual(['A@x.io', 'b@x.io', 'c@x.io']);
    expect(recipients(undefined, undefined)).toEqual([]);
  });
});

describe('nextMailAt', () => {
  it('the next window or expiry after now', () => {
    expect(nextMailAt([key()], at(8 * DAY))?.getTime()).toBe(EXP - 7 * DAY);
    expect(nextMailAt([key()], at(DAY / 2))?.getTime()).toBe(EXP);
    expect(nextMailAt([key()], at(-1))).toBeUndefined();
  });
});
