import { describe, expect, it } from 'vitest';
import { RECORD_DATA_KEY } from '../../api/constants.ts';
import { verifyKey, type GeneratedKey } from '../../api/keyformat.ts';
import { parseKeyRecord, type KeyRecord } from '../../api/record.ts';
import { plan } from './plan.ts';
import { DAY, HOUR, NS, T0, afterApply, apiKey, at, inputs, planWithMint, team, testKeys } from './testing.ts';
import type { ApplyPlan, PlanInputs } from './types.ts';

const recordOf = (p: ApplyPlan, keyId: string): KeyRecord | undefined => {
  const s = p.records.find((r) => r.metadata?.name === `nemokeys-key-${keyId}`);
  if (!s) return undefined;
  const parsed = parseKeyRecord(Buffer.from(s.data![RECORD_DATA_KEY]!, 'base64').toString('utf8'));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.record;
};
const ready = (p: ApplyPlan) => p.status?.conditions?.find((c) => c.type === 'Ready');
const cond = (p: ApplyPlan, type: string) => p.status?.conditions?.find((c) => c.type === type);

/** Runs reconciles (with minting) until one plans no new key and no events; returns every step. */
function run(start: PlanInputs, now: Date, keys = testKeys()) {
  let inp = start;
  const steps: { plan: ApplyPlan; key?: GeneratedKey }[] = [];
  for (let i = 0; i < 6; i++) {
    const step = planWithMint(plan, inp, now, keys);
    steps.push(step);
    inp = afterApply(inp, step.plan, step.key);
    if (!step.key && step.plan.events.length === 0) break;
  }
  return { inp, steps, issued: steps.flatMap((s) => (s.key ? [s.key] : [])), last: steps.at(-1)!.plan };
}

describe('plan: issuing a key', () => {
  it('asks for a key with the environment first, never planning plaintext itself', () => {
    const p = plan(inputs({ apiKey: apiKey({ environment: 'prod' }) }), T0);
    expect(p).toEqual({ kind: 'mint', environment: 'prod', reason: 'Created' });
  });

  it('with a minted key: record (hash only), Secret pointing at the key id, Ready status, Event and audit', () => {
    const { plan: p, key } = planWithMint(plan, inputs(), T0, testKeys());
    const rec = recordOf(p, key!.keyId)!;
    expect(verifyKey(key!.key, rec.hash)).toBe(true);
    expect(rec).toMatchObject({
      state: 'Active',
      expiresAt: null,
      owner: { namespace: NS, name: 'checkout', uid: 'uid-1' },
      team: 'payments',
      limitsKey: 'uid-1',
      scopes: { models: ['*'], endpoints: [], ipAllowlist: [] },
    });
    expect(p.records[0]!.metadata!.labels).toMatchObject({
      'keys.nemorouter.io/record': 'true',
      'keys.nemorouter.io/key-id': key!.keyId,
      'keys.nemorouter.io/apikey-uid': 'uid-1',
      'keys.nemorouter.io/team': 'payments',
    });
    expect(p.secret).toMatchObject({
      name: 'checkout',
      dataKey: 'api-key',
      keyId: key!.keyId,
      ownerReference: { uid: 'uid-1', controller: true },
    });
    expect(p.status).toMatchObject({
      currentKeyId: key!.keyId,
      secretName: 'checkout',
      observedGeneration: 1,
      keys: [{ id: key!.keyId, state: 'Active', hint: key!.hint }],
    });
    expect(ready(p)).toMatchObject({ status: 'True', reason: 'KeyReady' });
    expect(p.events.map((e) => e.reason)).toEqual(['KeyIssued']);
    expect(p.audit).toEqual([
      {
        action: 'create',
        apiKey: `${NS}/checkout`,
        keyId: key!.keyId,
        actor: 'user:kubectl-client-side-apply',
        reason: 'Created',
      },
    ]);
    expect(JSON.stringify(p)).not.toContain(key!.key.slice(-38));
  });

  it('honours spec.secret name and data key', () => {
    const { plan: p } = planWithMint(
      plan,
      inputs({ apiKey: apiKey({ secret: { name: 'llm-creds', key: 'OPENAI_API_KEY' } }) }),
      T0,
      testKeys(),
    );
    expect(p.secret).toMatchObject({ name: 'llm-creds', dataKey: 'OPENAI_API_KEY' });
  });

  it('adds the finalizer before anything else exists', () => {
    expect(planWithMint(plan, inputs({ apiKey: apiKey({}, { finalizers: [] }) }), T0, testKeys()).plan.finalizer).toBe(
      'add',
    );
  });

  it('a second reconcile of the applied result plans the same objects, no key, no Event (idempotent)', () => {
    const { inp, steps } = run(inputs(), T0);
    expect(steps).toHaveLength(2);
    const again = plan(inp, at(HOUR));
    expect(again.kind).toBe('apply');
    const p = again as ApplyPlan;
    expect(p.events).toEqual([]);
    expect(p.audit).toEqual([]);
    expect(p.deleteRecords).toEqual([]);
    expect(p.status).toEqual(inp.apiKey!.status);
    expect(p.records).toEqual(inp.records);
  });
});

describe('plan: teams and scopes', () => {
  type Row = {
    name: string;
    team?: Parameters<typeof team>[0] | null;
    key?: Parameters<typeof apiKey>[0];
    ready: string;
    status: 'True' | 'False';
    mint: boolean;
    models?: string[];
    endpoints?: string[];
    message?: RegExp;
  };
  const rows: Row[] = [
    {
      name: 'missing Team',
      team: null,
      ready: 'TeamNotFound',
      status: 'False',
      mint: false,
      message: /Team "payments" not found in namespace team-a/,
    },
    {
      name: 'key within team',
      team: { allowedModels: ['gpt-4o', 'gpt-4o-mini'] },
      key: { allowedModels: ['gpt-4o'] },
      ready: 'KeyReady',
      status: 'True',
      mint: true,
      models: ['gpt-4o'],
    },
    {
      name: 'empty key list = the team list',
      team: { allowedModels: ['gpt-4o', 'gemini-2.5-pro'] },
      ready: 'KeyReady',
      status: 'True',
      mint: true,
      models: ['gemini-2.5-pro', 'gpt-4o'],
    },
    {
      name: 'models outside team refused',
      team: { allowedModels: ['gpt-4o'] },
      key: { allowedModels: ['gpt-4o', 'o3'] },
      ready: 'ScopesRestricted',
      status: 'True',
      mint: true,
      models: ['gpt-4o'],
      message: /does not allow models o3/,
    },
    {
      name: 'no model left',
      team: { allowedModels: ['gpt-4o'] },
      key: { allowedModels: ['o3'] },
      ready: 'NoAllowedModels',
      status: 'False',
      mint: false,
      message: /none of the requested models \(o3\)/,
    },
    {
      name: 'endpoints intersect with /v1 folding',
      team: { allowedModels: ['*'], allowedEndpoints: ['/v1/embeddings', '/chat/completions'] },
      key: { allowedEndpoints: ['/embeddings', '/images/generations'] },
      ready: 'ScopesRestricted',
      status: 'True',
      mint: true,
      endpoints: ['/embeddings'],
      message: /endpoints \/images\/generations/,
    },
    {
      name: 'no endpoint left (never written as [] = all)',
      team: { allowedModels: ['*'], allowedEndpoints: ['/embeddings'] },
      key: { allowedEndpoints: ['/chat/completions'] },
      ready: 'NoAllowedEndpoints',
      status: 'False',
      mint: false,
    },
  ];
  it.each(rows)('$name', (row) => {
    const inp = inputs({ apiKey: apiKey(row.key ?? {}), team: row.team === null ? undefined : team(row.team ?? {}) });
    const first = plan(inp, T0);
    expect(first.kind === 'mint').toBe(row.mint);
    const { plan: p, key } = planWithMint(plan, inp, T0, testKeys());
    expect(ready(p)).toMatchObject({ reason: row.ready, status: row.status });
    if (row.message) expect(ready(p)!.message).toMatch(row.message);
    if (row.status === 'False')
      expect(p.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: row.ready }));
    if (row.ready === 'ScopesRestricted')
      expect(p.events).toContainEqual(
        expect.objectContaining({
          type: 'Warning',
          reason: 'ScopesRestricted',
          message: expect.stringMatching(row.message!),
        }),
      );
    if (row.models) expect(recordOf(p, key!.keyId)!.scopes.models).toEqual(row.models);
    if (row.endpoints) expect(recordOf(p, key!.keyId)!.scopes.endpoints).toEqual(row.endpoints);
  });

  it('a team change re-renders the record; a vanished Team suspends the key (record state Suspended with the reason; lineage state kept)', () => {
    const { inp, issued } = run(inputs({ team: team({ allowedModels: ['gpt-4o', 'o3'] }) }), T0);
    const narrowed = plan({ ...inp, team: team({ allowedModels: ['gpt-4o'] }) }, at(1000)) as ApplyPlan;
    expect(recordOf(narrowed, issued[0]!.keyId)!.scopes.models).toEqual(['gpt-4o']);
    const gone = plan({ ...inp, team: undefined }, at(1000)) as ApplyPlan;
    expect(recordOf(gone, issued[0]!.keyId)).toMatchObject({
      state: 'Suspended',
      suspendedReason: 'TeamNotFound',
      scopes: { models: [] },
    });
    expect(ready(gone)).toMatchObject({ status: 'False', reason: 'TeamNotFound' });
    // ...and it comes back as soon as the Team does, with the same key id
    const back = run(afterApply({ ...inp, team: undefined }, gone, undefined), at(2000));
    expect(back.issued).toEqual([]);
    expect(ready(back.last)).toMatchObject({ status: 'False', reason: 'TeamNotFound' });
    const fixed = plan({ ...back.inp, team: team({ allowedModels: ['gpt-4o'] }) }, at(3000)) as ApplyPlan;
    expect(ready(fixed)).toMatchObject({ status: 'True', reason: 'KeyReady' });
    expect(recordOf(fixed, issued[0]!.keyId)).toMatchObject({ state: 'Active' });
  });

  it('team maxExpiration caps a Never key (and says so) instead of refusing it', () => {
    const { plan: p, key } = planWithMint(plan, inputs({ team: team({ maxExpiration: '90d' }) }), T0, testKeys());
    expect(p.status!.expiresAt).toBe(at(90 * DAY).toISOString());
    expect(recordOf(p, key!.keyId)!.expiresAt).toBe(at(90 * DAY).toISOString());
    expect(ready(p)).toMatchObject({
      status: 'True',
      reason: 'ExpirationCapped',
      message: expect.stringMatching(/Never exceeds Team "payments" maxExpiration 90d/),
    });
    expect(p.events).toContainEqual(expect.objectContaining({ reason: 'ExpirationCapped' }));
    const shorter = planWithMint(
      plan,
      inputs({ apiKey: apiKey({ expiration: '30d' }), team: team({ maxExpiration: '90d' }) }),
      T0,
      testKeys(),
    ).plan;
    expect(shorter.status!.expiresAt).toBe(at(30 * DAY).toISOString());
    expect(ready(shorter)!.reason).toBe('KeyReady');
  });
});

describe('plan: expiration', () => {
  it('a datetime already in the past issues nothing and says how to fix it', () => {
    const p = plan(inputs({ apiKey: apiKey({ expiration: '2029-12-31T00:00:00Z' }) }), T0) as ApplyPlan;
    expect(p.kind).toBe('apply');
    expect(ready(p)).toMatchObject({
      status: 'False',
      reason: 'ExpirationInPast',
      message: expect.stringMatching(/already in the past: set a future/),
    });
  });

  it('durations count from the key id creation; requeue for the 7-day reminder', () => {
    const { plan: p } = planWithMint(plan, inputs({ apiKey: apiKey({ expiration: '30d' }) }), T0, testKeys());
    expect(p.status!.expiresAt).toBe(at(30 * DAY).toISOString());
    expect(p.requeueAfterMs).toBe(23 * DAY);
  });

  it('7d, 1d and expiry reminders each exactly once; then Expired in status and record', () => {
    let inp = run(inputs({ apiKey: apiKey({ expiration: '30d' }) }), T0).inp;
    const sent: string[] = [];
    let expiredPlan: ApplyPlan | undefined;
    for (const t of [
      22 * DAY,
      23 * DAY,
      23 * DAY + HOUR,
      29 * DAY,
      29 * DAY + 1,
      30 * DAY,
      30 * DAY + HOUR,
      31 * DAY,
    ]) {
      const p = plan(inp, at(t)) as ApplyPlan;
      sent.push(...p.events.filter((e) => e.reminder).map((e) => e.reminder!));
      if (p.events.some((e) => e.reminder === 'expired')) expiredPlan = p;
      inp = afterApply(inp, p, undefined);
    }
    expect(sent).toEqual(['7d', '1d', 'expired']);
    const keyId = inp.apiKey!.status!.currentKeyId!;
    expect(inp.apiKey!.status!.keys![0]).toMatchObject({ state: 'Expired', reminders: ['7d', '1d', 'expired'] });
    expect(recordOf(expiredPlan!, keyId)).toMatchObject({ state: 'Expired' });
    expect(expiredPlan!.audit).toContainEqual(expect.objectContaining({ action: 'expire', keyId }));
    expect(ready(expiredPlan!)).toMatchObject({ status: 'False', reason: 'Expired' });
    expect(cond(expiredPlan!, 'Expired')).toMatchObject({ status: 'True' });
    // an expired key is not silently replaced; a rotate request replaces it
    expect(plan(inp, at(32 * DAY)).kind).toBe('apply');
    const rotated = run(
      {
        ...inp,
        apiKey: {
          ...inp.apiKey!,
          metadata: { ...inp.apiKey!.metadata, annotations: { 'keys.nemorouter.io/rotate': 'r1' } },
        },
      },
      at(32 * DAY),
    );
    expect(rotated.issued).toHaveLength(1);
    expect(rotated.inp.apiKey!.status).toMatchObject({
      currentKeyId: rotated.issued[0]!.keyId,
      lastRotationRequest: 'r1',
    });
  });

  it('an operator that was down across the windows sends only the expiry reminder', () => {
    const inp = run(inputs({ apiKey: apiKey({ expiration: '30d' }) }), T0).inp;
    const p = plan(inp, at(40 * DAY)) as ApplyPlan;
    expect(p.events.filter((e) => e.reminder).map((e) => e.reminder)).toEqual(['expired']);
  });

  it('a 3-day key gets no "7 days" reminder, only the 1-day one', () => {
    let inp = run(inputs({ apiKey: apiKey({ expiration: '3d' }) }), T0).inp;
    const sent: string[] = [];
    for (const t of [HOUR, 2 * DAY + 1, 2 * DAY + HOUR]) {
      const p = plan(inp, at(t)) as ApplyPlan;
      sent.push(...p.events.filter((e) => e.reminder).map((e) => e.reminder!));
      inp = afterApply(inp, p, undefined);
    }
    expect(sent).toEqual(['1d']);
  });
});
