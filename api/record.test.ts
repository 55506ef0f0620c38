import { describe, expect, it } from 'vitest';
import { isUsableRecord, KEY_RECORD_SCHEMA_VERSION, parseKeyRecord } from './record.ts';

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
