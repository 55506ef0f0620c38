import { describe, expect, it } from 'vitest';
import type { TrailEntry } from '../../operator/audit/trail.ts';
import { renderHistory } from './history.ts';

describe('renderHistory', () => {
  it('time, action, key id, actor (with impersonation), source IP (unknown when no audit event said), details', () => {
    const entries: TrailEntry[] = [
      {
        id: 'a',
        time: '2026-11-27T21:00:00.123456Z',
        action: 'edit',
        keyId: 'K1',
        actor: 'bob',
        impersonatedBy: 'admin',
        sourceIp: '127.0.0.1',
        fields: ['spec.allowedModels', 'spec.rateLimit.requestsPerMinute'],
      },
      {
        id: 'b',
        time: '2026-11-27T21:05:00.000Z',
        action: 'expire',
        keyId: 'K1',
        actor: 'nemokeys-operator',
        reason: 'expired at x',
      },
    ];
    expect(renderHistory(entries).split('\n')).toEqual([
      'TIME                          ACTION   KEY ID   ACTOR                            SOURCE IP   DETAILS',
      '2026-11-27T21:00:00.123456Z   edit     K1       bob (as impersonated by admin)   127.0.0.1   changed spec.allowedModels,spec.rateLimit.requestsPerMinute',
      '2026-11-27T21:05:00.000Z      expire   K1       nemokeys-operator                unknown     expired at x',
      '',
    ]);
  });

  it('a rotate names its successor as key id and the predecessor in the details', () => {
    const rotate: TrailEntry = {
      id: 'r',
      time: '2026-11-27T21:00:00Z',
      action: 'rotate',
      keyId: 'K2',
      predecessorKeyId: 'K1',
      actor: 'alice',
      sourceIp: '127.0.0.1',
    };
    expect(renderHistory([rotate])).toContain('rotate   K2       alice   127.0.0.1   successor of K1');
  });

  it('says so when there is nothing yet', () => {
    expect(renderHistory([])).toBe('No audit entries yet.\n');
  });
});
