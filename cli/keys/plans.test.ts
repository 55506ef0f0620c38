import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../api/index.ts';
import {
  T0,
  apiKey as opApiKey,
  at as opAt,
  inputs,
  reconcileUntilQuiet,
  testKeys,
  withSpec,
} from '../../operator/apikey/testing.ts';
import {
  nextRotateValue,
  planDuplicate,
  planHandoff,
  planRevokeKeyId,
  planRotate,
  rotateExplanation,
  secretOwnerConflict,
  unknownKeyIdMessage,
} from './plans.ts';
import { HOUR, NOW, apiKey, at, entry, servedApiKey } from './testing.ts';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';

describe('nextRotateValue', () => {
  it.each([
    ['no previous request', undefined, NOW.toISOString()],
    ['older request', at(-1000), NOW.toISOString()],
    ['same millisecond', NOW.toISOString(), at(1)],
    ['request from a clock ahead of ours', at(5000), at(5001)],
    ['unparsable previous value', 'please', NOW.toISOString()],
  ])('%s', (_l, current, expected) => expect(nextRotateValue(current, NOW)).toBe(expected));
});

describe('planRotate', () => {
  it('patches a new value and remembers the current key id', () => {
    const obj = apiKey('a', {
      metadata: { name: 'a', annotations: { [ANNOTATIONS.rotate]: NOW.toISOString() } },
      status: { currentKeyId: A },
    });
    expect(planRotate(obj, NOW)).toEqual({ kind: 'patch', value: at(1), previousKeyId: A });
  });
  it('refuses a revoked ApiKey and one being deleted', () => {
    expect(planRotate(apiKey('a', { spec: { team: 't', revoked: true } }), NOW).kind).toBe('refuse');
    expect(planRotate(apiKey('a', { metadata: { name: 'a', deletionTimestamp: at(0) } }), NOW).kind).toBe('refuse');
  });
  it('explains the hand-off with the configured idle time and the current key', () => {
    const obj = apiKey('a', {
      spec: {
        team: 't',
        secret: { name: 'wl', key: 'k' },
        rotation: { automatic: false, handoff: { idle: '2h', maxOverlap: '3d' } },
      },
      status: { currentKeyId: A, keys: [entry(A, 'Active')] },
    });
    const text = rotateExplanation(obj, 'v');
    expect(text).toContain('Secret wl (data key k)');
    expect(text).toContain(`current key ${A} …AAAA valid (Superseded)`);
    expect(text).toContain('idle for 2h (at most 3d)');
  });
});

describe('planRevokeKeyId', () => {
  const obj = apiKey('a', {
    spec: { team: 't', revokedKeyIds: [A] },
    status: {
      currentKeyId: B,
      keys: [entry(A, 'Revoked'), entry(B, 'Active'), entry('cccccccccccccccc', 'Superseded')],
    },
  });
  it.each([
    ['unknown id', 'dddddddddddddddd', { kind: 'unknown', known: [A, B, 'cccccccccccccccc'] }],
    ['already in the set', A, { kind: 'already' }],
    [
      'superseded id is appended',
      'cccccccccccccccc',
      { kind: 'patch', revokedKeyIds: [A, 'cccccccccccccccc'], isCurrent: false },
    ],
    ['current id is flagged', B, { kind: 'patch', revokedKeyIds: [A, B], isCurrent: true }],
  ])('%s', (_l, id, plan) => expect(planRevokeKeyId(obj, id)).toEqual(plan));

  it('names the known ids and their states when the id is unknown', () => {
    expect(unknownKeyIdMessage(obj, 'x', [A, B])).toContain(`Known key ids: ${A} (Revoked), ${B} (Active)`);
    expect(unknownKeyIdMessage(apiKey('a'), 'x', [])).toContain('no key ids yet');
  });
});

describe('planDuplicate', () => {
  const original = apiKey('prod-a', {
    metadata: {
      name: 'prod-a',
      namespace: 'shop',
      uid: 'u',
      resourceVersion: '9',
      labels: { 'app.kubernetes.io/instance': 'argo' },
      annotations: { [ANNOTATIONS.rotate]: 'x' },
    },
    spec: {
      team: 'checkout',
      allowedModels: ['gpt-4o-mini'],
      allowedEndpoints: ['/embeddings'],
      ipAllowlist: ['10.0.0.0/8'],
      expiration: '90d',
      environment: 'prod',
      revoked: true,
      revokedKeyIds: [A],
      rateLimit: { requestsPerMinute: 60 },
      budget: { credits: 1000, period: 'Monthly' },
    },
    status: { currentKeyId: A },
  });
  const { revoked: _r, revokedKeyIds: _k, ...sameScopes } = original.spec ?? {};

  it('copies the spec, drops identity, status and revocations', () => {
    const copy = planDuplicate(original, { newName: 'prod-b' });
    expect(copy).toEqual({
      apiVersion: 'keys.nemorouter.io/v1alpha1',
      kind: 'ApiKey',
      metadata: { name: 'prod-b', namespace: 'shop' },
      spec: { ...sameScopes, revoked: false },
    });
  });

  it.each([
    ['default Secret name stays default (the new name)', undefined, undefined, undefined],
    [
      'explicit Secret name becomes the new name',
      { name: 'shared', key: 'k' },
      undefined,
      { name: 'prod-b', key: 'k' },
    ],
    ['--secret-name wins', { name: 'shared', key: 'k' }, 'mine', { name: 'mine', key: 'k' }],
    ['--secret-name without a secret block', undefined, 'mine', { name: 'mine' }],
  ])('%s', (_l, secret, secretName, expected) => {
    const obj = apiKey('prod-a', { spec: { team: 't', ...(secret ? { secret } : {}) } });
    expect(planDuplicate(obj, { newName: 'prod-b', secretName }).spec?.secret).toEqual(expected);
  });

  it('does not alias the original spec', () => {
    const copy = planDuplicate(original, { newName: 'prod-b' });
    copy.spec?.allowedModels?.push('o3');
    expect(original.spec?.allowedModels).toEqual(['gpt-4o-mini']);
  });

  it('finds another ApiKey that already writes the target Secret', () => {
    const copy = planDuplicate(original, { newName: 'prod-b', secretName: 'wl' });
    const owner = apiKey('other', { spec: { team: 't', secret: { name: 'wl', key: 'api-key' } } });
    expect(secretOwnerConflict(copy, [original, owner])?.metadata.name).toBe('other');
    expect(secretOwnerConflict(planDuplicate(original, { newName: 'prod-b' }), [original, owner])).toBeUndefined();
    // An ApiKey without spec.secret writes the Secret named after itself.
    expect(
      secretOwnerConflict(planDuplicate(original, { newName: 'prod-b', secretName: 'other' }), [
        owner,
        apiKey('other2'),
      ]),
    ).toBeUndefined();
    expect(
      secretOwnerConflict(planDuplicate(original, { newName: 'prod-b', secretName: 'plain' }), [apiKey('plain')])
        ?.metadata.name,
    ).toBe('plain');
  });
});

describe('planHandoff (statuses produced by the operator planner)', () => {
  const keys = testKeys(31);
  const manual = () =>
    reconcileUntilQuiet(inputs({ apiKey: opApiKey({ rotation: { handoff: { mode: 'Manual' } } }) }), T0, keys);
  const rotated = () => {
    const first = manual();
    const second = reconcileUntilQuiet(withSpec(first.inp, {}, { 'keys.nemorouter.io/rotate': '1' }), opAt(HOUR), keys);
    return { inp: second.inp, pred: first.minted[0]!.keyId, succ: second.minted[0]!.keyId };
  };

  it('refuses without a predecessor', () => {
    const p = planHandoff(servedApiKey(manual().inp), false);
    expect(p).toMatchObject({
      kind: 'refuse',
      reason: expect.stringContaining('no predecessor key id waiting for hand-off'),
    });
  });

  it('refuses while the successor was never used, unless forced', () => {
    const { inp, pred, succ } = rotated();
    const refused = planHandoff(servedApiKey(inp), false);
    expect(refused).toMatchObject({ kind: 'refuse', reason: expect.stringContaining(`successor key ${succ}`) });
    expect(refused.kind === 'refuse' && refused.reason).toMatch(/never been used.*--force/s);
    // The hint works from any namespace context, and speaks of the one predecessor as "it".
    expect(refused.kind === 'refuse' && refused.reason).toContain(
      `workloads still using it. Roll the new key out, confirm its ` +
        `LAST USED in "keys describe ${servedApiKey(inp).metadata.name} -n ${servedApiKey(inp).metadata.namespace}"`,
    );
    expect(planHandoff(servedApiKey(inp), true)).toMatchObject({
      kind: 'patch',
      revokedKeyIds: [pred],
      predecessors: [pred],
      successor: succ,
    });
  });

  it('revokes every predecessor once the successor shows a last-used time (from usage the operator summed)', () => {
    const { inp, pred, succ } = rotated();
    const used = reconcileUntilQuiet(
      { ...inp, usage: new Map([[succ, { requests: 3, credits: 3, lastUsedAt: opAt(2 * HOUR).toISOString() }]]) },
      opAt(2 * HOUR),
      keys,
    ).inp;
    expect(planHandoff(servedApiKey(used), false)).toEqual({
      kind: 'patch',
      revokedKeyIds: [pred],
      predecessors: [pred],
      successor: succ,
      successorLastUsed: opAt(2 * HOUR).toISOString(),
    });
  });
});
