import { describe, expect, it } from 'vitest';
import { keyState, scopeRefusals } from './state.ts';
import { apiKey, condition, at } from './testing.ts';

const ready = condition('Ready', 'True', 'KeyReady');

describe('keyState', () => {
  it.each([
    ['no status yet', apiKey('a'), 'Pending'],
    ['Ready', apiKey('a', { status: { conditions: [ready] } }), 'Ready'],
    [
      'not ready with reason',
      apiKey('a', { status: { conditions: [condition('Ready', 'False', 'TeamNotFound')] } }),
      'NotReady (TeamNotFound)',
    ],
    [
      'unknown without reason',
      apiKey('a', { status: { conditions: [{ ...condition('Ready', 'Unknown', 'Pending'), reason: '' }] } }),
      'NotReady',
    ],
    [
      'rotating beats ready',
      apiKey('a', { status: { conditions: [ready, condition('Rotating', 'True', 'HandoffPending')] } }),
      'Rotating',
    ],
    [
      'rotating False is ignored',
      apiKey('a', { status: { conditions: [ready, condition('Rotating', 'False', 'NoPredecessor')] } }),
      'Ready',
    ],
    [
      'expired beats rotating',
      apiKey('a', {
        status: {
          conditions: [condition('Rotating', 'True', 'HandoffPending'), condition('Expired', 'True', 'Expired')],
        },
      }),
      'Expired',
    ],
    [
      'revoked condition',
      apiKey('a', {
        status: {
          conditions: [condition('Expired', 'True', 'Expired'), condition('Revoked', 'True', 'RevokedBySpec')],
        },
      }),
      'Revoked',
    ],
    [
      'spec.revoked before the operator caught up',
      apiKey('a', { spec: { team: 't', revoked: true }, status: { conditions: [ready] } }),
      'Revoked',
    ],
    ['being deleted', apiKey('a', { metadata: { name: 'a', deletionTimestamp: at(0) } }), 'Terminating'],
  ])('%s', (_label, obj, state) => expect(keyState(obj)).toBe(state));
});

describe('scopeRefusals', () => {
  it('finds conditions whose reason is a scope refusal (api/conditions.ts), ignores the rest', () => {
    const refused = condition('Ready', 'True', 'ScopesRestricted', 'model gpt-5 is not allowed by team checkout');
    const none = condition('Ready', 'False', 'NoAllowedModels', 'none of the requested models is allowed');
    expect(scopeRefusals(apiKey('a', { status: { conditions: [none] } }))).toEqual([none]);
    const obj = apiKey('a', {
      status: { conditions: [refused, condition('Rotating', 'False', 'NoPredecessor', 'no rotation')] },
    });
    expect(scopeRefusals(obj)).toEqual([refused]);
    expect(scopeRefusals(apiKey('a', { status: { conditions: [ready] } }))).toEqual([]);
  });
});
