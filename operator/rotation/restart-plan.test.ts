import { describe, expect, it } from 'vitest';
import { plan } from '../apikey/plan.ts';
import { T0, afterApply, apiKey, inputs, planWithMint, testKeys } from '../apikey/testing.ts';
import { decideRestart, parseTargetKey, restartTargetsOf, restartValue, targetKey, targets } from './restart-plan.ts';
import { RestartTargetTracker, restartTargetsCondition } from './restart-status.ts';
import type { TargetRef, WorkloadState } from './workloads.ts';

const web: TargetRef = { namespace: 'team-a', kind: 'Deployment', name: 'web' };
const db: TargetRef = { namespace: 'team-a', kind: 'StatefulSet', name: 'db' };
const found = (annotation?: string): WorkloadState => ({ exists: true, annotation });

describe('restart targets: which value, and whether to patch', () => {
  type Row = {
    name: string;
    keyIds: (string | undefined)[];
    workload: WorkloadState;
    want: ReturnType<typeof decideRestart>;
  };
  const rows: Row[] = [
    {
      name: 'no key issued yet: nothing to roll for',
      keyIds: [undefined],
      workload: found(),
      want: { action: 'none', why: 'no-key-yet' },
    },
    {
      name: 'first key: annotate (a workload named later rolls once)',
      keyIds: ['k1'],
      workload: found(),
      want: { action: 'patch', value: 'k1', previous: undefined },
    },
    {
      name: 'same key as annotated: no write',
      keyIds: ['k1'],
      workload: found('k1'),
      want: { action: 'none', why: 'up-to-date' },
    },
    {
      name: 'key rotated: patch to the new key id',
      keyIds: ['k2'],
      workload: found('k1'),
      want: { action: 'patch', value: 'k2', previous: 'k1' },
    },
    {
      name: 'two ApiKeys: one value, sorted, so their order never matters',
      keyIds: ['zz', 'aa'],
      workload: found(),
      want: { action: 'patch', value: 'aa,zz', previous: undefined },
    },
    {
      name: 'two ApiKeys, unchanged: no write',
      keyIds: ['zz', 'aa'],
      workload: found('aa,zz'),
      want: { action: 'none', why: 'up-to-date' },
    },
    {
      name: 'both rotated together: one patch carries both new ids',
      keyIds: ['b2', 'a2'],
      workload: found('a1,b1'),
      want: { action: 'patch', value: 'a2,b2', previous: 'a1,b1' },
    },
    {
      name: 'one ApiKey without a key yet does not hold back the others',
      keyIds: [undefined, 'k1'],
      workload: found(),
      want: { action: 'patch', value: 'k1', previous: undefined },
    },
    {
      name: 'duplicates fold (two ApiKeys cannot share a key id, but be safe)',
      keyIds: ['k1', 'k1'],
      workload: found('k1'),
      want: { action: 'none', why: 'up-to-date' },
    },
    { name: 'workload missing', keyIds: ['k1'], workload: { exists: false }, want: { action: 'missing', value: 'k1' } },
    {
      name: 'workload missing and no key: nothing to say yet',
      keyIds: [],
      workload: { exists: false },
      want: { action: 'none', why: 'no-key-yet' },
    },
  ];
  it.each(rows)('$name', ({ keyIds, workload, want }) => {
    expect(decideRestart(keyIds, workload)).toEqual(want);
  });

  it('deciding again on the patched state never patches again (no loop)', () => {
    const first = decideRestart(['b', 'a'], found('old'));
    expect(first.action).toBe('patch');
    expect(decideRestart(['a', 'b'], found(first.action === 'patch' ? first.value : ''))).toEqual({
      action: 'none',
      why: 'up-to-date',
    });
    expect(restartValue(['b', 'a'])).toBe(restartValue(['a', 'b']));
  });
});

describe('restart targets: keys and spec', () => {
  it('target keys round-trip; anything else is not a target', () => {
    expect(parseTargetKey(targetKey(web))).toEqual(web);
    for (const bad of ['team-a/web', 'team-a/Pod/web', 'team-a/Deployment/', 'a/Deployment/b/c', ''])
      expect(parseTargetKey(bad)).toBeUndefined();
  });

  it('reads spec.rotation.restartTargets in the ApiKey namespace; a deleting ApiKey targets nothing', () => {
    const ak = apiKey({
      rotation: {
        restartTargets: [
          { kind: 'Deployment', name: 'web' },
          { kind: 'StatefulSet', name: 'db' },
        ],
      },
    });
    expect(restartTargetsOf(ak)).toEqual([web, db]);
    expect(targets(ak, web)).toBe(true);
    expect(targets(ak, { ...web, kind: 'DaemonSet' })).toBe(false);
    expect(
      targets(apiKey({ rotation: { restartTargets: [{ kind: 'Deployment', name: 'web' }] } }, { deleting: true }), web),
    ).toBe(false);
    expect(restartTargetsOf(apiKey())).toEqual([]);
  });
});

describe('RestartTargets condition', () => {
  const prev = {
    type: 'RestartTargets',
    status: 'False' as const,
    reason: 'TargetNotFound',
    message: 'old',
    lastTransitionTime: '2030-01-01T00:00:00Z',
  };
  it('absent without targets', () => {
    expect(restartTargetsCondition([], new Map(), prev)).toBeUndefined();
  });
  it('not checked yet (operator just restarted): the previous condition is kept as it was', () => {
    expect(restartTargetsCondition([web], undefined, prev)).toEqual({
      type: 'RestartTargets',
      status: 'False',
      reason: 'TargetNotFound',
      message: 'old',
    });
    expect(restartTargetsCondition([web], undefined, undefined)).toBeUndefined();
  });
  it('a missing target: False, naming it and what to do', () => {
    const c = restartTargetsCondition(
      [web, db],
      new Map([
        ['Deployment/web', true],
        ['StatefulSet/db', false],
      ]),
      undefined,
    )!;
    expect(c).toMatchObject({ status: 'False', reason: 'TargetNotFound' });
    expect(c.message).toMatch(
      /StatefulSet\/db not found in namespace team-a: create it or fix spec.rotation.restartTargets/,
    );
    expect(c.message).not.toMatch(/Deployment\/web/);
  });
  it('all found: True', () => {
    expect(restartTargetsCondition([web], new Map([['Deployment/web', true]]), prev)).toMatchObject({
      status: 'True',
      reason: 'TargetsFound',
    });
  });
  it('the tracker reports a change only when existence changes, and nothing until every target was checked', () => {
    const t = new RestartTargetTracker();
    const ak = apiKey({
      rotation: {
        restartTargets: [
          { kind: 'Deployment', name: 'web' },
          { kind: 'StatefulSet', name: 'db' },
        ],
      },
    });
    expect(t.set(web, false)).toBe(true);
    expect(t.set(web, false)).toBe(false);
    expect(t.stateFor(ak)).toBeUndefined();
    t.set(db, true);
    expect(t.stateFor(ak)).toEqual(
      new Map([
        ['Deployment/web', false],
        ['StatefulSet/db', true],
      ]),
    );
    expect(t.set(web, true)).toBe(true);
    t.forget(db);
    expect(t.stateFor(ak)).toBeUndefined();
  });
});

describe('RestartTargets condition in the ApiKey status (planner)', () => {
  it('rendered from what the restart-target controller saw, kept across an operator restart, no write when unchanged', () => {
    const ak = apiKey({ rotation: { restartTargets: [{ kind: 'Deployment', name: 'web' }] } });
    const first = planWithMint(
      plan,
      inputs({ apiKey: ak, restartTargets: new Map([['Deployment/web', false]]) }),
      T0,
      testKeys(),
    );
    const cond = first.plan.status!.conditions!.find((c) => c.type === 'RestartTargets');
    expect(cond).toMatchObject({ status: 'False', reason: 'TargetNotFound' });
    expect(first.plan.status!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' }); // the key itself is fine
    const applied = afterApply(inputs({ apiKey: ak }), first.plan, first.key);
    const restarted = plan({ ...applied, restartTargets: undefined }, T0);
    expect(restarted.kind === 'apply' && restarted.status).toEqual(applied.apiKey!.status);
  });
});
