// The page's pure helpers (ui/static/format.js, plain JavaScript served as is).
import { describe, expect, it } from 'vitest';
import type { KeyView } from './view.ts';
import { customExpiration, expirationChoice, matches, modelScope, relativeTime, sortKeys } from './static/format.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const k = (
  name: string,
  over: Partial<KeyView> & { spec?: KeyView['spec']; status?: KeyView['status'] } = {},
): KeyView => ({
  namespace: 'ns',
  name,
  uid: undefined,
  resourceVersion: '1',
  createdAt: undefined,
  state: 'Ready',
  revokeCandidate: undefined,
  spec: { team: 'payments' },
  status: {},
  ...over,
});
const keys = [
  k('prod-b', {
    spec: { team: 'payments', environment: 'prod', allowedModels: ['gpt-4o-mini'] },
    status: {
      expiresAt: '2026-06-10T00:00:00Z',
      lastUsedAt: '2026-05-31T00:00:00Z',
      usage: { requests: 5, credits: 50 },
    },
  }),
  k('dev-a', {
    spec: { team: 'search', environment: 'dev' },
    state: 'Revoked',
    status: { expiresAt: '2026-06-03T00:00:00Z', usage: { requests: 50, credits: 1 } },
  }),
  k('stage-c', {
    spec: { team: 'payments', environment: 'stage', allowedModels: ['text-embedding-3-small'] },
    revokeCandidate: 'never used',
    status: { lastUsedAt: '2026-05-31T12:00:00Z' },
  }),
];

describe('format.js', () => {
  it('relativeTime', () => {
    expect(relativeTime('2026-05-31T23:55:00Z', NOW)).toBe('5m ago');
    expect(relativeTime('2026-06-04T00:00:00Z', NOW)).toBe('in 3d');
    expect(relativeTime(undefined, NOW)).toBeUndefined();
  });
  it('modelScope: restricted vs all team models', () => {
    expect(modelScope(keys[0]!)).toEqual({ restricted: true, text: 'gpt-4o-mini' });
    expect(modelScope(keys[1]!)).toEqual({ restricted: false, text: 'all team models' });
  });
  it.each([
    ['name search', { search: 'STAGE' }, ['stage-c']],
    ['team', { team: 'payments' }, ['prod-b', 'stage-c']],
    ['environment', { environment: 'dev' }, ['dev-a']],
    ['state', { state: 'Revoked' }, ['dev-a']],
    ['restricted', { scope: 'restricted' as const }, ['prod-b', 'stage-c']],
    ['all models', { scope: 'all' as const }, ['dev-a']],
    ['can call a model (all-models keys can)', { model: 'gpt-4o-mini' }, ['prod-b', 'dev-a']],
    ['revoke candidates', { candidates: true }, ['stage-c']],
  ])('filter by %s', (_n, filter, want) =>
    expect(keys.filter((x) => matches(x, filter)).map((x) => x.name)).toEqual(want),
  );
  it.each([
    ['name', ['dev-a', 'prod-b', 'stage-c']],
    ['expiry', ['dev-a', 'prod-b', 'stage-c']],
    ['usage', ['dev-a', 'prod-b', 'stage-c']],
    ['lastUsed', ['stage-c', 'prod-b', 'dev-a']],
  ] as const)('sort by %s', (by, want) => expect(sortKeys(keys, by).map((x) => x.name)).toEqual(want));
  it('expiration presets and custom datetimes', () => {
    expect(expirationChoice(undefined)).toEqual({ preset: 'Never', custom: '' });
    expect(expirationChoice('365d')).toEqual({ preset: '365d', custom: '' });
    expect(expirationChoice('2027-06-30T23:59:59Z')).toEqual({ preset: 'custom', custom: '2027-06-30T23:59:59Z' });
    expect(customExpiration('2027-01-02T03:04Z')).toBe('2027-01-02T03:04:00Z');
  });
});
