import { describe, expect, it } from 'vitest';
import { RECORD_DATA_KEY } from '../../api/constants.ts';
import { parseKeyRecord, type KeyRecord } from '../../api/record.ts';
import { plan } from './plan.ts';
import {
  DAY,
  HOUR,
  NS,
  T0,
  afterApply,
  apiKey,
  at,
  inputs,
  planWithMint,
  team,
  testKeys,
  workloadSecret,
} from './testing.ts';
import type { ApplyPlan, PlanInputs } from './types.ts';

// Planner rows for the key lifecycle: revocation, deletion, lost Secret (succeed), hand-off, crash recovery, usage.

const recordIn = (records: PlanInputs['records'], keyId: string): KeyRecord | undefined => {
  const s = records.find((r) => r.metadata?.name === `nemokeys-key-${keyId}`);
  const parsed = s && parseKeyRecord(Buffer.from(s.data![RECORD_DATA_KEY]!, 'base64').toString('utf8'));
  return parsed?.ok ? parsed.record : undefined;
};
const ready = (p: ApplyPlan) => p.status?.conditions?.find((c) => c.type === 'Ready');
const withMeta = (inp: PlanInputs, meta: Record<string, unknown>, spec: Record<string, unknown> = {}): PlanInputs => ({
  ...inp,
  apiKey: {
    ...inp.apiKey!,
    metadata: { ...inp.apiKey!.metadata, ...meta },
    spec: { team: 'payments', ...inp.apiKey!.spec, ...spec },
  },
});
function step(inp: PlanInputs, now: Date, keys = testKeys(99)) {
  const s = planWithMint(plan, inp, now, keys);
  return { ...s, next: afterApply(inp, s.plan, s.key) };
}
function issuedWorld(spec: Parameters<typeof apiKey>[0] = {}) {
  const s = step(inputs({ apiKey: apiKey(spec) }), T0, testKeys(1));
  return { inp: s.next, key: s.key! };
}

describe('plan: revocation', () => {
  it('spec.revoked revokes every key id at once, records first; the actor is the spec manager', () => {
    const { inp, key } = issuedWorld();
    const s = step(
      withMeta(
        inp,
        {
          managedFields: [
            {
              manager: 'argocd-controller',
              operation: 'Apply',
              time: at(HOUR),
              fieldsType: 'FieldsV1',
              fieldsV1: { 'f:spec': { 'f:revoked': {} } },
            },
          ],
        },
        { revoked: true },
      ),
      at(HOUR),
    );
    expect(s.key).toBeUndefined();
    expect(recordIn(s.plan.records, key.keyId)).toMatchObject({ state: 'Revoked' });
    expect(s.plan.status!.keys![0]).toMatchObject({
      state: 'Revoked',
      revokedReason: 'spec.revoked set by user:argocd-controller',
    });
    expect(s.plan.audit).toEqual([
      {
        action: 'revoke',
        apiKey: `${NS}/checkout`,
        keyId: key.keyId,
        actor: 'user:argocd-controller',
        reason: 'spec.revoked set by user:argocd-controller',
      },
    ]);
    expect(ready(s.plan)).toMatchObject({ status: 'False', reason: 'Revoked' });
    expect(s.plan.status!.conditions!.find((c) => c.type === 'Revoked')).toMatchObject({ status: 'True' });
    // un-revoking issues a NEW key id; the revoked one stays revoked
    const back = step(withMeta(s.next, {}, { revoked: false }), at(2 * HOUR), testKeys(5));
    expect(back.key).toBeDefined();
    expect(back.plan.status!.keys!.map((k) => k.state)).toEqual(['Revoked', 'Active']);
  });
});

describe('plan: spec.revokedKeyIds', () => {
  it('revokes exactly the listed key id: record Revoked, revokedAt + reason, one Event, one audit line; the successor stays', () => {
    const { inp, key: first } = issuedWorld();
    const rotated = step(withMeta(inp, { annotations: { 'keys.nemorouter.io/rotate': '1' } }), at(HOUR), testKeys(3));
    const successor = rotated.key!;
    const manager = {
      managedFields: [
        {
          manager: 'nemokeys-cli',
          operation: 'Update',
          time: at(2 * HOUR),
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:spec': { 'f:revokedKeyIds': {} } },
        },
      ],
    };
    const s = step(withMeta(rotated.next, manager, { revokedKeyIds: [first.keyId] }), at(2 * HOUR));
    expect(s.key).toBeUndefined();
    expect(recordIn(s.plan.records, first.keyId)).toMatchObject({ state: 'Revoked' });
    expect(recordIn(s.plan.records, successor.keyId)).toMatchObject({ state: 'Active' });
    const entry = s.plan.status!.keys!.find((k) => k.id === first.keyId)!;
    expect(entry).toMatchObject({
      state: 'Revoked',
      revokedAt: at(2 * HOUR).toISOString(),
      revokedReason: 'listed in spec.revokedKeyIds by user:nemokeys-cli',
    });
    expect(s.plan.events.filter((e) => e.reason === 'KeyRevoked')).toEqual([
      expect.objectContaining({ message: expect.stringContaining(first.keyId) }),
    ]);
    expect(s.plan.audit).toEqual([
      {
        action: 'revoke',
        apiKey: `${NS}/checkout`,
        keyId: first.keyId,
        actor: 'user:nemokeys-cli',
        reason: 'listed in spec.revokedKeyIds by user:nemokeys-cli',
      },
    ]);
    expect(ready(s.plan)).toMatchObject({ status: 'True' });
    expect(s.plan.status!.conditions!.find((c) => c.type === 'Revoked')).toMatchObject({
      status: 'False',
      reason: 'KeyIdsRevoked',
    });
    // level-triggered: the next reconcile revokes nothing again (no second Event or audit line)
    const again = step(s.next, at(3 * HOUR));
    expect(again.plan.events.filter((e) => e.reason === 'KeyRevoked')).toEqual([]);
    expect(again.plan.audit).toEqual([]);
  });

  it('revoking the current key id issues a fresh key id (the ApiKey itself is not revoked)', () => {
    const { inp, key } = issuedWorld();
    const s = step(withMeta(inp, {}, { revokedKeyIds: [key.keyId] }), at(HOUR));
    expect(s.plan.status!.keys![0]).toMatchObject({ id: key.keyId, state: 'Revoked' });
    const next = step(s.next, at(HOUR), testKeys(4));
    expect(next.key).toBeDefined();
    expect(next.plan.status!.keys!.map((k) => [k.id, k.state])).toEqual([
      [key.keyId, 'Revoked'],
      [next.key!.keyId, 'Active'],
    ]);
    expect(recordIn(next.plan.records, key.keyId)).toMatchObject({ state: 'Revoked' });
  });
});

describe('plan: deletion', () => {
  it('with the finalizer: every record of this ApiKey goes, then the finalizer', () => {
    const { inp, key } = issuedWorld();
    const p = plan(withMeta(inp, { deletionTimestamp: at(HOUR) }), at(HOUR)) as ApplyPlan;
    expect(p).toMatchObject({ finalizer: 'remove', deleteRecords: [`nemokeys-key-${key.keyId}`], records: [] });
    expect(p.status).toBeUndefined();
    expect(p.audit).toContainEqual(
      expect.objectContaining({ action: 'revoke', keyId: key.keyId, reason: 'ApiKey deleted' }),
    );
  });
  it('ApiKey gone (or another incarnation): its records are deleted', () => {
    const { inp, key } = issuedWorld();
    expect((plan({ ...inp, apiKey: undefined }, at(HOUR)) as ApplyPlan).deleteRecords).toEqual([
      `nemokeys-key-${key.keyId}`,
    ]);
    const recreated = withMeta(inp, { uid: 'uid-2' });
    recreated.apiKey!.status = undefined;
    const s = step(recreated, at(HOUR));
    expect(s.plan.deleteRecords).toContain(`nemokeys-key-${key.keyId}`);
    expect(s.key).toBeDefined();
  });
});

describe('plan: lost or corrupted workload Secret → succeed(predecessor)', () => {
  const corruptions: { name: string; mutate: (inp: PlanInputs) => PlanInputs }[] = [
    { name: 'Secret deleted', mutate: (inp) => ({ ...inp, secret: undefined }) },
    {
      name: 'data overwritten with garbage',
      mutate: (inp) => ({
        ...inp,
        secret: { ...inp.secret!, data: { 'api-key': Buffer.from('hello').toString('base64') } },
      }),
    },
    { name: 'data key removed', mutate: (inp) => ({ ...inp, secret: { ...inp.secret!, data: {} } }) },
    {
      name: 'another well-formed key pasted in',
      mutate: (inp) => ({ ...inp, secret: workloadSecret(testKeys(42)().key, inp.apiKey!.status!.currentKeyId!) }),
    },
  ];
  it.each(corruptions)('$name: new key id, predecessor Superseded and still valid in its record', ({ mutate }) => {
    const { inp, key } = issuedWorld();
    const s = step(mutate(inp), at(HOUR));
    expect(s.key).toBeDefined();
    expect(s.key!.keyId).not.toBe(key.keyId);
    expect(s.plan.secret!.keyId).toBe(s.key!.keyId);
    expect(s.plan.status).toMatchObject({ currentKeyId: s.key!.keyId });
    expect(s.plan.status!.keys!.map((k) => [k.id, k.state])).toEqual([
      [key.keyId, 'Superseded'],
      [s.key!.keyId, 'Active'],
    ]);
    expect(recordIn(s.plan.records, key.keyId)).toMatchObject({ state: 'Superseded', hash: key.hash });
    expect(s.plan.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'KeySuperseded' }));
    expect(s.plan.audit).toContainEqual(
      expect.objectContaining({ action: 'rotate', keyId: s.key!.keyId, reason: 'SecretLost' }),
    );
    expect(ready(s.plan)).toMatchObject({ status: 'True' });
    expect(s.plan.status!.conditions!.find((c) => c.type === 'Rotating')).toMatchObject({
      status: 'True',
      reason: 'HandoffPending',
    });
  });
});

describe('plan: hand-off of a Superseded predecessor', () => {
  function superseded() {
    const { inp, key: pred } = issuedWorld({ rotation: { handoff: { idle: '1h', maxOverlap: '2d' } } });
    const s = step(withMeta(inp, { annotations: { 'keys.nemorouter.io/rotate': 'now' } }), at(HOUR));
    return { inp: s.next, pred, succ: s.key! };
  }
  const usage = (entries: [string, number, Date][]) =>
    new Map(
      entries.map(([id, requests, last]) => [id, { requests, credits: requests, lastUsedAt: last.toISOString() }]),
    );
  type Row = {
    name: string;
    now: number;
    use: (p: string, s: string) => [string, number, Date][];
    revoked: boolean;
    reason?: RegExp;
    requeue?: number;
  };
  const rows: Row[] = [
    {
      name: 'successor unused: predecessor stays',
      now: 5 * HOUR,
      use: () => [],
      revoked: false,
      requeue: HOUR + 2 * DAY - 5 * HOUR,
    },
    {
      name: 'successor used, predecessor idle < 1h',
      now: 3 * HOUR,
      use: (p, s) => [
        [p, 3, at(2.5 * HOUR)],
        [s, 1, at(2 * HOUR)],
      ],
      revoked: false,
      requeue: 0.5 * HOUR,
    },
    {
      name: 'successor used, predecessor idle ≥ 1h',
      now: 4 * HOUR,
      use: (p, s) => [
        [p, 3, at(2.5 * HOUR)],
        [s, 1, at(2 * HOUR)],
      ],
      revoked: true,
      reason: /hand-off confirmed/,
    },
    {
      name: 'maxOverlap elapsed while the predecessor is still used',
      now: HOUR + 2 * DAY,
      use: (p, s) => [
        [p, 9, at(HOUR + 2 * DAY - 1)],
        [s, 1, at(2 * HOUR)],
      ],
      revoked: true,
      reason: /maxOverlap/,
    },
  ];
  it.each(rows)('$name', (row) => {
    const { inp, pred, succ } = superseded();
    const p = plan({ ...inp, usage: usage(row.use(pred.keyId, succ.keyId)) }, at(row.now)) as ApplyPlan;
    const entry = p.status!.keys!.find((k) => k.id === pred.keyId)!;
    expect(entry.state).toBe(row.revoked ? 'Revoked' : 'Superseded');
    expect(recordIn(p.records, pred.keyId)!.state).toBe(row.revoked ? 'Revoked' : 'Superseded');
    if (row.reason) expect(entry.revokedReason).toMatch(row.reason);
    if (row.requeue !== undefined) expect(p.requeueAfterMs).toBe(row.requeue);
    if (row.revoked)
      expect(p.audit).toContainEqual(
        expect.objectContaining({ action: 'revoke', keyId: pred.keyId, relatedKeyId: succ.keyId, actor: 'operator' }),
      );
  });
});

describe('plan: manual hand-off (spec.rotation.handoff.mode: Manual, or the Team default)', () => {
  const usage = (entries: [string, Date][]) =>
    new Map(entries.map(([id, last]) => [id, { requests: 1, credits: 1, lastUsedAt: last.toISOString() }]));
  function rotatedWorld(spec: Parameters<typeof apiKey>[0], teamSpec: Parameters<typeof team>[0] = {}) {
    const s0 = step(inputs({ apiKey: apiKey(spec), team: team(teamSpec) }), T0, testKeys(1));
    const s1 = step(withMeta(s0.next, { annotations: { 'keys.nemorouter.io/rotate': 'now' } }), at(HOUR));
    return { inp: s1.next, pred: s0.key!, succ: s1.key! };
  }
  it.each([
    [
      'the key says Manual',
      { rotation: { handoff: { mode: 'Manual' as const, idle: '1h', maxOverlap: '2d' } } },
      {},
      true,
    ],
    [
      'the Team default says Manual',
      { rotation: { handoff: { idle: '1h', maxOverlap: '2d' } } },
      { defaults: { rotation: { handoff: { mode: 'Manual' as const } } } },
      true,
    ],
    [
      'the key says Automatic over a Manual Team default',
      { rotation: { handoff: { mode: 'Automatic' as const, idle: '1h', maxOverlap: '2d' } } },
      { defaults: { rotation: { handoff: { mode: 'Manual' as const } } } },
      false,
    ],
  ])('%s: predecessor valid past idle and maxOverlap = %s', (_n, spec, teamSpec, manual) => {
    const { inp, pred, succ } = rotatedWorld(spec, teamSpec);
    const p = plan({ ...inp, usage: usage([[succ.keyId, at(2 * HOUR)]]) }, at(3 * DAY)) as ApplyPlan;
    const entry = p.status!.keys!.find((k) => k.id === pred.keyId)!;
    expect(entry.state).toBe(manual ? 'Superseded' : 'Revoked');
    expect(recordIn(p.records, pred.keyId)!.state).toBe(manual ? 'Superseded' : 'Revoked');
    const rotating = p.status!.conditions!.find((c) => c.type === 'Rotating')!;
    if (manual) {
      expect(rotating).toMatchObject({
        status: 'True',
        reason: 'HandoffManual',
        message: expect.stringContaining(`successor ${succ.keyId} last used`),
      });
      expect(p.audit).toEqual([]);
      expect(p.requeueAfterMs).toBeUndefined(); // nothing to wait for: the user decides
    }
  });
  it('the user revoking the predecessor ends a manual hand-off; expiry still ends it without them', () => {
    const { inp, pred, succ } = rotatedWorld({ expiration: '10d', rotation: { handoff: { mode: 'Manual' } } });
    const revoked = step(withMeta(inp, {}, { revokedKeyIds: [pred.keyId] }), at(2 * HOUR));
    expect(revoked.plan.status!.keys!.map((k) => [k.id, k.state])).toEqual([
      [pred.keyId, 'Revoked'],
      [succ.keyId, 'Active'],
    ]);
    expect(revoked.plan.status!.conditions!.find((c) => c.type === 'Rotating')).toMatchObject({
      status: 'False',
      reason: 'NoPredecessor',
    });
    const expired = plan(inp, at(10 * DAY)) as ApplyPlan;
    expect(expired.status!.keys!.find((k) => k.id === pred.keyId)!.state).toBe('Expired');
  });
});

describe('plan: crash recovery (status behind the writes)', () => {
  it('died after writing the record: the orphan is deleted and a fresh key id issued', () => {
    const first = planWithMint(plan, inputs(), T0, testKeys(3));
    const crashed: PlanInputs = { ...inputs(), records: first.plan.records }; // record written, nothing else
    const s = step(crashed, at(1000));
    expect(s.plan.deleteRecords).toEqual([`nemokeys-key-${first.key!.keyId}`]);
    expect(s.key!.keyId).not.toBe(first.key!.keyId);
  });
  it('died after writing the Secret: the key id is adopted, no new key', () => {
    const first = planWithMint(plan, inputs(), T0, testKeys(3));
    const crashed: PlanInputs = {
      ...inputs(),
      records: first.plan.records,
      secret: workloadSecret(first.key!.key, first.key!.keyId),
    };
    const s = step(crashed, at(1000));
    expect(s.key).toBeUndefined();
    expect(s.plan.deleteRecords).toEqual([]);
    expect(s.plan.status).toMatchObject({
      currentKeyId: first.key!.keyId,
      keys: [{ id: first.key!.keyId, state: 'Active', createdAt: T0.toISOString() }],
    });
    expect(ready(s.plan)!.status).toBe('True');
  });
  it('a record lost for the current key is recovered from the Secret; a lost predecessor record revokes it', () => {
    const { inp, key } = issuedWorld();
    const s = step({ ...inp, records: [] }, at(1000));
    expect(s.key).toBeUndefined();
    expect(recordIn(s.plan.records, key.keyId)).toMatchObject({ hash: key.hash, state: 'Active' });
    const lost = step({ ...inp, secret: undefined }, at(2000)); // key superseded (Secret lost) ...
    const pred = lost.next.records.filter((r) => r.metadata!.name !== `nemokeys-key-${key.keyId}`);
    const p = plan({ ...lost.next, records: pred }, at(3000)) as ApplyPlan; // ... and then its record lost too
    expect(p.status!.keys!.find((k) => k.id === key.keyId)).toMatchObject({
      state: 'Revoked',
      revokedReason: expect.stringMatching(/record was lost/),
    });
  });
});

describe('plan: usage from gateway reports', () => {
  it('sums into status.keys[] and status.usage, never going backwards when a report disappears', () => {
    const { inp, key } = issuedWorld();
    const u1 = new Map([[key.keyId, { requests: 10, credits: 250, lastUsedAt: at(HOUR).toISOString() }]]);
    const s1 = step({ ...inp, usage: u1 }, at(2 * HOUR));
    expect(s1.plan.status).toMatchObject({
      usage: { requests: 10, credits: 250 },
      lastUsedAt: at(HOUR).toISOString(),
      keys: [{ requests: 10, credits: 250 }],
    });
    const s2 = step({ ...s1.next, usage: new Map() }, at(3 * HOUR));
    expect(s2.plan.status).toMatchObject({ usage: { requests: 10, credits: 250 } });
  });
});

describe('plan: conflicts', () => {
  it('a foreign Secret with the same name is never overwritten', () => {
    const foreign = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'checkout', namespace: NS },
      data: { x: 'eQ==' },
    };
    const p = plan(inputs({ secret: foreign }), T0) as ApplyPlan;
    expect(p.kind).toBe('apply');
    expect(p.secret).toBeUndefined();
    expect(ready(p)).toMatchObject({ status: 'False', reason: 'SecretConflict' });
  });
});
