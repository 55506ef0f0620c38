import { describe, expect, it } from 'vitest';
import type { KeyEntry } from '../../api/apikey.ts';
import { parseApiKeySpec } from '../../api/spec.ts';
import { issueDecision, type IssueInputs } from './issue-policies.ts';

// The issue chain's precedence, one row per trigger and per pair that could both fire (docs/design.md §5).

const parsed = parseApiKeySpec({ spec: { team: 'team-a', rotation: { automatic: true } } });
if (!parsed.ok) throw new Error(parsed.error);
const spec = parsed.spec;
const entry = (state: KeyEntry['state']): KeyEntry => ({
  id: 'k1',
  hint: 'abcd',
  state,
  createdAt: '2025-01-01T00:00:00Z',
});
const base: IssueInputs = {
  spec,
  current: entry('Active'),
  secretHoldsCurrent: true,
  rotationRequested: false,
  autoRotationAt: undefined,
  nowMs: 1_000,
  specActor: 'user:alice',
  rotateActor: 'user:bob',
  operator: 'operator',
};

describe('issue chain', () => {
  it.each<[string, Partial<IssueInputs>, string | undefined, string | undefined, string | undefined]>([
    ['nothing to do', {}, undefined, undefined, undefined],
    ['no key yet', { current: undefined, rotationRequested: true }, 'Created', undefined, 'user:alice'],
    [
      'a lost Secret is repaired before a requested rotation',
      { secretHoldsCurrent: false, rotationRequested: true },
      'SecretLost',
      'k1',
      'operator',
    ],
    [
      'a requested rotation before a due automatic one',
      { rotationRequested: true, autoRotationAt: 0 },
      'RotationRequested',
      'k1',
      'user:bob',
    ],
    ['a revoked current key is reissued', { current: entry('Revoked') }, 'Reissued', undefined, 'user:alice'],
    ['automatic rotation due', { autoRotationAt: 1_000 }, 'AutomaticRotation', 'k1', 'operator'],
    ['automatic rotation not due yet', { autoRotationAt: 1_001 }, undefined, undefined, undefined],
    [
      'an expired key with automatic rotation',
      { current: entry('Expired') },
      'AutomaticRotation',
      undefined,
      'operator',
    ],
    [
      'a revoked ApiKey issues nothing',
      { spec: { ...spec, revoked: true }, current: undefined },
      undefined,
      undefined,
      undefined,
    ],
  ])('%s', (_label, over, reason, predecessor, actor) => {
    const issue = issueDecision({ ...base, ...over });
    expect(issue && { reason: issue.reason, predecessor: issue.predecessor, actor: issue.actor }).toEqual(
      reason === undefined ? undefined : { reason, predecessor, actor },
    );
  });
});
