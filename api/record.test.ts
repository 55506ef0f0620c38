import { describe, expect, it } from 'vitest';
import { canonical, isUsableRecord, KEY_RECORD_SCHEMA_VERSION, parseKeyRecord, sameJson } from './record.ts';

const v1 = (state: string, revoked: boolean) =>
  JSON.stringify({
    schemaVersion: 1,
    keyId: 'aaaaaaaaaaaaaaaa',
    hash: 'a'.repeat(64),
    owner: { namespace: 'n', name: 'k', uid: 'u' },
    team: 't',
    state,
    revoked,
    expiresAt: null,
    scopes: { models: ['*'], endpoints: [], ipAllowlist: [] },
    limitsKey: 'u',
    updatedAt: '2026-01-01T00:00:00Z',
  });

describe('key record versions', () => {
  it.each([
    ['usable', 'Active', false, 'Active'],
    ['superseded', 'Superseded', false, 'Superseded'],
    ['suspended (revoked flag on a usable state)', 'Active', true, 'Suspended'],
    ['revoked', 'Revoked', true, 'Revoked'],
    ['expired', 'Expired', true, 'Expired'],
  ])('a version 1 record (%s) reads as version 2 with one state', (_n, state, revoked, expected) => {
    const parsed = parseKeyRecord(v1(state, revoked));
    expect(parsed.ok && parsed.record).toMatchObject({ schemaVersion: KEY_RECORD_SCHEMA_VERSION, state: expected });
    expect(parsed.ok && 'revoked' in parsed.record).toBe(false);
  });

  it('suspendedReason only with state Suspended', () => {
    const { revoked: _dropped, ...base } = JSON.parse(v1('Active', false)) as Record<string, unknown>;
    const bad = parseKeyRecord(JSON.stringify({ ...base, schemaVersion: 2, suspendedReason: 'TeamNotFound' }));
    expect(!bad.ok && bad.error).toMatch(/suspendedReason is only allowed with state Suspended/);
    const good = parseKeyRecord(
      JSON.stringify({ ...base, schemaVersion: 2, state: 'Suspended', suspendedReason: 'TeamNotFound' }),
    );
    expect(good.ok).toBe(true);
    expect(good.ok && isUsableRecord(good.record)).toBe(false);
  });
});

describe('sameJson', () => {
  // It must agree with comparing canonical() renderings, which it replaces in reconciles.
  const values: unknown[] = [
    {},
    { a: 1 },
    { a: 1, b: undefined },
    { b: undefined, a: 1 },
    { a: '1' },
    { a: null },
    { a: [1, 2] },
    { a: [2, 1] },
    { a: [1, undefined] },
    { a: [1, null] },
    { a: { x: 1, y: [{ z: true }] } },
    { a: { y: [{ z: true }], x: 1 } },
    { a: { x: 1, y: [{ z: false }] } },
    { a: { x: 1 } },
    [],
    [{}],
    null,
    0,
    '',
    'a',
    true,
  ];
  it('is canonical() equality for every pair of a varied set', () => {
    for (const a of values)
      for (const b of values) expect([a, b, sameJson(a, b)]).toEqual([a, b, canonical(a) === canonical(b)]);
  });
});
