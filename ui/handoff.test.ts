import { describe, expect, it } from 'vitest';
import type { KeyEntry } from '../api/index.ts';
import type { ApiKeyObject } from '../cli/keys/model.ts';
import { planManualHandoff } from './handoff.ts';

const entry = (id: string, state: KeyEntry['state'], lastUsedAt?: string): KeyEntry =>
  ({ id, hint: 'abcd', state, createdAt: '2026-01-01T00:00:00Z', ...(lastUsedAt && { lastUsedAt }) });
const key = (current: string, keys: KeyEntry[]): ApiKeyObject =>
  ({ metadata: { name: 'k', namespace: 'ns' }, spec: { team: 't' }, status: { currentKeyId: current, keys } });

describe('planManualHandoff', () => {
  it.each([
    ['successor used: every Superseded predecessor', key('c', [entry('a', 'Superseded'), entry('b', 'Superseded'),
      entry('r', 'Revoked'), entry('c', 'Active', '2026-01-02T00:00:00Z')]), { ids: ['a', 'b'] }],
    ['successor never used', key('c', [entry('a', 'Superseded'), entry('c', 'Active')]), { refuse: expect.stringMatching(/never been used/) }],
    ['nothing Superseded', key('c', [entry('c', 'Active', '2026-01-02T00:00:00Z')]), { refuse: expect.stringMatching(/nothing is Superseded/) }],
  ])('%s', (_n, obj, want) => expect(planManualHandoff(obj)).toEqual(want));
});
