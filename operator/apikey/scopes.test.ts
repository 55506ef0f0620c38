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
