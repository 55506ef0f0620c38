// The operator → gateway contract, end to end in one process: the operator's planner produces the record
// Secrets, the gateway's Secret index decodes them with the one codec (api/record-secret.ts) into its
// store, and precheck answers with the key the planner had minted. No hand-built record anywhere.
import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { GeneratedKey } from '../../api/keyformat.ts';
import {
  DAY,
  HOUR,
  T0,
  apiKey,
  at,
  inputs,
  reconcileUntilQuiet,
  team,
  testKeys,
  withSpec,
} from '../../operator/apikey/testing.ts';
import type { PlanInputs } from '../../operator/apikey/types.ts';
import { precheck } from '../checks/precheck.ts';
import { compileCidrs } from '../client-ip.ts';
import { errorBody, errorSpec } from '../errors.ts';
import { createSecretIndex } from '../sources/secret-index.ts';
import { RecordStore } from './store.ts';

const reconcile = (inp: PlanInputs, now: Date, keys: () => GeneratedKey) => reconcileUntilQuiet(inp, now, keys);

/** The gateway's view of the records namespace after the operator wrote `records`. */
function gatewayOver(records: readonly V1Secret[]) {
  const store = new RecordStore();
  const index = createSecretIndex(store, { schedule: () => {} });
  for (const [i, s] of records.entries()) {
    index.onChange({ ...s, metadata: { ...s.metadata, resourceVersion: String(i + 1) } }, 'add');
  }
  index.flush(true);
  expect(index.invalid, 'every record the operator writes decodes').toBe(0);
  return (key: string, now: Date) => {
    const r = precheck({
      synced: store.synced,
      lookup: (id) => store.get(id),
      headers: { authorization: `Bearer ${key}` },
      method: 'POST',
      url: '/v1/chat/completions',
      peer: '127.0.0.1',
      trustedProxies: compileCidrs([]),
      nowMs: now.getTime(),
    });
    if (r.ok) return { answer: 'ok' as const };
    const body = JSON.parse(errorBody(r.reason, r.detail)) as {
      error: { message: string; code: string; type: string };
    };
    return { answer: r.reason, status: errorSpec(r.reason).status, ...body.error };
  };
}

describe('operator records → gateway answers', () => {
  it('issue, rotate, revoke one key id: predecessor valid until revoked, then 401 revoked; successor keeps working', () => {
    const keys = testKeys(11);
    const issued = reconcile(inputs(), T0, keys);
    const [first] = issued.minted;
    expect(gatewayOver(issued.inp.records)(first!.key, at(HOUR))).toEqual({ answer: 'ok' });

    const rotated = reconcile(withSpec(issued.inp, {}, { 'keys.nemorouter.io/rotate': '1' }), at(HOUR), keys);
    const [second] = rotated.minted;
    const afterRotate = gatewayOver(rotated.inp.records);
    expect(afterRotate(first!.key, at(HOUR))).toEqual({ answer: 'ok' });
    expect(afterRotate(second!.key, at(HOUR))).toEqual({ answer: 'ok' });

    const revoked = reconcile(withSpec(rotated.inp, { revokedKeyIds: [first!.keyId] }), at(2 * HOUR), keys);
    const gateway = gatewayOver(revoked.inp.records);
    expect(gateway(first!.key, at(2 * HOUR))).toMatchObject({
      answer: 'revoked',
      status: 401,
      type: 'authentication_error',
      code: 'revoked_api_key',
    });
    expect(gateway(second!.key, at(2 * HOUR))).toEqual({ answer: 'ok' });
  });

  it('spec.revoked: every key id answers revoked', () => {
    const keys = testKeys(12);
    const issued = reconcile(inputs(), T0, keys);
    const revoked = reconcile(withSpec(issued.inp, { revoked: true }), at(HOUR), keys);
    expect(gatewayOver(revoked.inp.records)(issued.minted[0]!.key, at(HOUR))).toMatchObject({
      answer: 'revoked',
      code: 'revoked_api_key',
    });
  });

  it('expiry says expired with the date — before and after the operator wrote Expired — never revoked', () => {
    const keys = testKeys(13);
    const issued = reconcile(inputs({ apiKey: apiKey({ expiration: '30d' }) }), T0, keys);
    const key = issued.minted[0]!.key;
    const expiresAt = new Date(T0.getTime() + 30 * DAY).toISOString();
    // the clock passed the expiry; the record still says Active
    expect(gatewayOver(issued.inp.records)(key, at(30 * DAY))).toMatchObject({
      answer: 'expired',
      status: 401,
      code: 'expired_api_key',
      message: expect.stringContaining(`It expired at ${expiresAt}.`),
    });
    const processed = reconcile(issued.inp, at(31 * DAY), keys);
    expect(processed.inp.apiKey!.status!.keys![0]!.state).toBe('Expired');
    expect(gatewayOver(processed.inp.records)(key, at(31 * DAY))).toMatchObject({
      answer: 'expired',
      code: 'expired_api_key',
      message: expect.stringContaining(`It expired at ${expiresAt}.`),
    });
  });

  it.each([
    ['Team deleted', undefined, /Its Team does not exist/],
    ['Team allows none of the models', team({ allowedModels: ['o3'] }), /allows none of the key's models/],
    [
      'Team allows none of the endpoints',
      team({ allowedEndpoints: ['/images/generations'] }),
      /allows none of the key's endpoints/,
    ],
  ])('suspended (%s) says suspended and why, and works again once fixed', (_name, broken, why) => {
    const keys = testKeys(14);
    const issued = reconcile(
      inputs({ apiKey: apiKey({ allowedModels: ['gpt-4o'], allowedEndpoints: ['/chat/completions'] }) }),
      T0,
      keys,
    );
    const key = issued.minted[0]!.key;
    const suspended = reconcile({ ...issued.inp, team: broken }, at(HOUR), keys);
    expect(suspended.minted).toEqual([]);
    expect(gatewayOver(suspended.inp.records)(key, at(HOUR))).toMatchObject({
      answer: 'suspended',
      status: 401,
      type: 'authentication_error',
      code: 'suspended_api_key',
      message: expect.stringMatching(why),
    });
    const fixed = reconcile({ ...suspended.inp, team: team() }, at(2 * HOUR), keys);
    expect(gatewayOver(fixed.inp.records)(key, at(2 * HOUR))).toEqual({ answer: 'ok' });
  });
});
