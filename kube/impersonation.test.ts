import { describe, expect, it } from 'vitest';
import { impersonationHeaders, impersonationOf } from './impersonation.ts';

const doc = (user: Record<string, unknown>) => ({ users: [{ name: 'u', user }] });

describe('impersonationOf', () => {
  it.each([
    ['as only', doc({ as: 'dave' }), undefined],
    ['groups', doc({ as: 'dave', 'as-groups': ['sre'] }), { groups: ['sre'], uid: undefined, extra: {} }],
    [
      'uid + extra',
      doc({ as: 'dave', 'as-uid': '42', 'as-user-extra': { scopes: ['a'] } }),
      { groups: [], uid: '42', extra: { scopes: ['a'] } },
    ],
    ['other user', { users: [{ name: 'x', user: { 'as-groups': ['sre'] } }] }, undefined],
  ])('%s', (_name, d, want) => expect(impersonationOf([d], 'u')).toEqual(want));

  it('the first file that defines the user wins, like kubectl', () => {
    expect(impersonationOf([doc({ 'as-groups': ['a'] }), doc({ 'as-groups': ['b'] })], 'u')?.groups).toEqual(['a']);
  });
});

describe('impersonationHeaders', () => {
  it('group, uid and percent-encoded extra keys', () => {
    expect(impersonationHeaders({ groups: ['sre'], uid: '42', extra: { 'example.com/team': ['x'] } }, 'u')).toEqual({
      'Impersonate-Group': 'sre',
      'Impersonate-Uid': '42',
      'Impersonate-Extra-example.com%2Fteam': 'x',
    });
  });
  it('refuses more than one group with a message instead of impersonating the wrong group', () => {
    expect(() => impersonationHeaders({ groups: ['sre', 'ops'], extra: {} }, 'u')).toThrow(
      /as-groups lists 2 values \(sre, ops\)/,
    );
  });
});
