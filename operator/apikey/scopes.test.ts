import { describe, expect, it } from 'vitest';
import { effectiveScopes, normalizeEndpoint } from './scopes.ts';

describe('effectiveScopes = key ∩ team', () => {
  it.each([
    { name: 'team all, key empty', team: ['*'], key: [], models: ['*'], refused: [] },
    { name: 'team all, key list', team: ['*'], key: ['gpt-4o'], models: ['gpt-4o'], refused: [] },
    { name: 'team list, key "*" = the team', team: ['b', 'a'], key: ['*'], models: ['a', 'b'], refused: [] },
    { name: 'team list, key partly outside', team: ['a', 'b'], key: ['b', 'c'], models: ['b'], refused: ['c'] },
    { name: 'nothing left', team: ['a'], key: ['c'], models: [], refused: ['c'], empty: 'models' },
  ])('models: $name', (row) => {
    const s = effectiveScopes({ allowedModels: row.key }, { allowedModels: row.team });
    expect([s.models, s.refusedModels, s.empty]).toEqual([row.models, row.refused, row.empty]);
  });

  it.each([
    { name: 'both empty = all', team: [], key: [], endpoints: [], refused: [] },
    { name: 'key empty = the team', team: ['/v1/embeddings'], key: [], endpoints: ['/embeddings'], refused: [] },
    {
      name: 'team empty = the key',
      team: [],
      key: ['/chat/completions/'],
      endpoints: ['/chat/completions'],
      refused: [],
    },
    {
      name: '/v1 folding on both sides',
      team: ['/chat/completions'],
      key: ['/v1/chat/completions', '/images/generations'],
      endpoints: ['/chat/completions'],
      refused: ['/images/generations'],
    },
    {
      name: 'disjoint is empty, never "all"',
      team: ['/embeddings'],
      key: ['/chat/completions'],
      endpoints: [],
      refused: ['/chat/completions'],
      empty: 'endpoints',
    },
  ])('endpoints: $name', (row) => {
    const s = effectiveScopes({ allowedEndpoints: row.key }, { allowedModels: ['*'], allowedEndpoints: row.team });
    expect([s.endpoints, s.refusedEndpoints, s.empty]).toEqual([row.endpoints, row.refused, row.empty]);
  });

  it.each([
    ['/v1/embeddings', '/embeddings'],
    ['/v1', '/'],
    ['/v1beta/x', '/v1beta/x'],
    ['/a//', '/a'],
  ])('normalizeEndpoint(%s) = %s', (a, b) => {
    expect(normalizeEndpoint(a)).toBe(b);
  });
});

describe('effectiveScopes: source addresses, key within its Team (ipAllowlistFrom lists)', () => {
  it.each<{
    name: string;
    key: string[];
    keyLists?: string[];
    team?: string[];
    allowed: string[];
    narrowed?: string[];
  }>([
    { name: 'no Team list: the key as written', key: ['10.0.0.0/8'], allowed: ['10.0.0.0/8'] },
    { name: 'neither: any source', key: [], allowed: [] },
    {
      name: 'key lists added to spec.ipAllowlist, no Team list',
      key: ['10.0.0.0/8'],
      keyLists: ['192.0.2.0/24', '10.0.0.0/8'],
      allowed: ['10.0.0.0/8', '192.0.2.0/24'],
    },
    {
      name: 'key any: the Team list',
      key: [],
      team: ['192.0.2.0/24', '10.0.0.0/8'],
      allowed: ['10.0.0.0/8', '192.0.2.0/24'],
    },
    { name: 'key inside the Team', key: ['10.1.0.0/16'], team: ['10.0.0.0/8'], allowed: ['10.1.0.0/16'] },
    {
      name: 'key wider than the Team: narrowed to the Team',
      key: ['10.0.0.0/8'],
      team: ['10.1.0.0/16', '10.2.0.0/16', '192.0.2.0/24'],
      allowed: ['10.1.0.0/16', '10.2.0.0/16'],
      narrowed: ['10.0.0.0/8'],
    },
    {
      name: 'partly outside: the outside block is dropped',
      key: ['10.1.2.3', '198.51.100.0/24'],
      team: ['10.0.0.0/8'],
      allowed: ['10.1.2.3'],
      narrowed: ['198.51.100.0/24'],
    },
    {
      name: 'a block covered by two adjacent Team blocks stays whole',
      key: ['10.0.0.0/15'],
      team: ['10.1.0.0/16', '10.0.0.0/16'],
      allowed: ['10.0.0.0/15', '10.0.0.0/16', '10.1.0.0/16'],
    },
    {
      name: 'a key list inside the Team list',
      key: [],
      keyLists: ['2001:db8:1::/48'],
      team: ['2001:db8::/32'],
      allowed: ['2001:db8:1::/48'],
    },
    {
      name: 'families do not mix',
      key: ['10.0.0.0/8'],
      team: ['2001:db8::/32'],
      allowed: [],
      narrowed: ['10.0.0.0/8'],
    },
    {
      name: 'IPv4-mapped IPv6 is the IPv4 block (as at the gateway)',
      key: ['::ffff:10.1.0.0/112'],
      team: ['10.0.0.0/8'],
      allowed: ['::ffff:10.1.0.0/112'],
    },
    {
      name: 'host bits are ignored, as at the gateway',
      key: ['10.1.2.3/16'],
      team: ['10.1.0.0/16'],
      allowed: ['10.1.0.0/16', '10.1.2.3/16'],
    },
    { name: 'an empty Team list allows nothing (never "any")', key: [], team: [], allowed: [] },
  ])('$name', (row) => {
    const lists = { key: row.keyLists ?? [], ...(row.team ? { team: row.team } : {}) };
    const s = effectiveScopes({ ipAllowlist: row.key }, { allowedModels: ['*'] }, lists);
    expect([s.ipAllowlist, s.narrowedSources]).toEqual([row.allowed, row.narrowed ?? []]);
    const empty = row.team !== undefined && row.allowed.length === 0 ? 'sources' : undefined;
    expect(s.empty).toBe(empty);
  });

  it('intersects two lists of thousands of blocks exactly', () => {
    const v4 = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.0/24`;
    const team = Array.from({ length: 5_000 }, (_, i) => v4(2 * i)); // every other /24
    const key = Array.from({ length: 5_000 }, (_, i) => v4(i)); // the first 5 000 /24s
    const s = effectiveScopes({}, { allowedModels: ['*'] }, { key, team });
    expect(s.ipAllowlist).toEqual(team.filter((_, i) => 2 * i < 5_000).sort());
    expect(s.narrowedSources).toHaveLength(2_500);
  });
});
