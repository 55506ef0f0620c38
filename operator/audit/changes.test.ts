import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../api/constants.ts';
import { changedPaths, classify, snapshotOf, type Snapshot } from './changes.ts';

const snap = (spec: Record<string, unknown>, extra: Partial<Snapshot> = {}): Snapshot => ({ spec, ...extra });
const ROTATE = `metadata.annotations[${ANNOTATIONS.rotate}]`;

describe('changedPaths', () => {
  it.each([
    ['equal', { a: 1 }, { a: 1 }, []],
    ['leaf changed', { a: 1 }, { a: 2 }, ['spec.a']],
    ['nested leaf added', {}, { rateLimit: { requestsPerMinute: 5 } }, ['spec.rateLimit.requestsPerMinute']],
    [
      'nested object removed',
      { rateLimit: { requestsPerMinute: 5, tokensPerMinute: 9 } },
      {},
      ['spec.rateLimit.requestsPerMinute', 'spec.rateLimit.tokensPerMinute'],
    ],
    ['array is one leaf', { m: ['a', 'b'] }, { m: ['a'] }, ['spec.m']],
    ['array order matters', { m: ['a', 'b'] }, { m: ['b', 'a'] }, ['spec.m']],
    ['sorted paths', { z: 1, a: 1 }, { z: 2, a: 2 }, ['spec.a', 'spec.z']],
  ])('%s', (_n, before, after, want) => {
    expect(changedPaths(before, after, 'spec')).toEqual(want);
  });
});

describe('classify: what one request did', () => {
  it.each([
    ['create', 'create', undefined, snap({ team: 't' }), 'create', ['spec.team']],
    ['delete verb', 'delete', snap({ team: 't' }), undefined, 'delete', []],
    [
      'deletionTimestamp set (finalizer pending)',
      'delete',
      snap({ team: 't' }),
      snap({ team: 't' }, { deleting: true }),
      'delete',
      [],
    ],
    ['edit', 'patch', snap({ team: 't' }), snap({ team: 't', allowedModels: ['x'] }), 'edit', ['spec.allowedModels']],
    ['revoke', 'patch', snap({ revoked: false }), snap({ revoked: true }), 'revoke', ['spec.revoked']],
    ['un-revoke is an edit', 'patch', snap({ revoked: true }), snap({ revoked: false }), 'edit', ['spec.revoked']],
    [
      'revoke one key id',
      'patch',
      snap({ revokedKeyIds: ['a'] }),
      snap({ revokedKeyIds: ['a', 'b'] }),
      'revoke-key-id',
      ['spec.revokedKeyIds'],
    ],
    ['rotate annotation', 'update', snap({}), snap({}, { rotate: '1' }), 'rotate', [ROTATE]],
    ['rotate annotation changed', 'patch', snap({}, { rotate: '1' }), snap({}, { rotate: '2' }), 'rotate', [ROTATE]],
    ['no-op', 'patch', snap({ a: 1 }), snap({ a: 1 }), 'edit', []],
    ['no snapshot yet counts as create', 'patch', undefined, snap({ a: 1 }), 'create', ['spec.a']],
  ] as const)('%s', (_n, verb, before, after, action, fields) => {
    const got = classify(verb, before, after);
    expect([got.action, got.fields]).toEqual([action, fields]);
  });

  it('names the key id a revoke-key-id revoked', () => {
    expect(classify('patch', snap({}), snap({ revokedKeyIds: ['k1'] })).revokedKeyId).toBe('k1');
  });
});

describe('snapshotOf', () => {
  it('keeps spec, the rotate annotation and deletion; nothing else (status, other annotations)', () => {
    expect(
      snapshotOf({
        metadata: { annotations: { [ANNOTATIONS.rotate]: 'x', other: 'y' }, deletionTimestamp: '2026-01-01T00:00:00Z' },
        spec: { team: 't' },
      }),
    ).toEqual({ spec: { team: 't' }, rotate: 'x', deleting: true });
    expect(snapshotOf(undefined)).toBeUndefined();
  });
});
