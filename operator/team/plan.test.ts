import { describe, expect, it } from 'vitest';
import { T0, apiKey, team } from '../apikey/testing.ts';
import { planTeamStatus } from './plan.ts';

describe('planTeamStatus', () => {
  const keys = [
    apiKey({}, { name: 'a' }),
    apiKey({}, { name: 'b' }),
    apiKey({ team: 'other' }, { name: 'c' }),
    apiKey({}, { name: 'd', deleting: true }),
  ];
  it.each([
    {
      name: 'counts the keys of this team only (not other teams, not deleting ones)',
      team: team(),
      ready: 'True',
      reason: 'Valid',
      keys: 2,
    },
    {
      name: 'an invalid spec is not Ready',
      team: { ...team(), spec: { allowedModels: [] } },
      ready: 'False',
      reason: 'InvalidSpec',
      keys: 2,
    },
  ])('$name', (row) => {
    const s = planTeamStatus(row.team, keys, T0);
    expect(s).toMatchObject({
      observedGeneration: 1,
      keys: row.keys,
      conditions: [{ type: 'Ready', status: row.ready, reason: row.reason }],
    });
  });
  it('names the ConfigMap lists that confine the sources of its keys', () => {
    const t = team({ allowedModels: ['gpt-4o'], ipAllowlistFrom: [{ configMapKeyRef: { name: 'ci', key: 'cidrs' } }] });
    expect(planTeamStatus(t, keys, T0).conditions?.[0]?.message).toBe(
      'allows models gpt-4o from the source addresses in configmap ci/cidrs',
    );
  });
  it('is stable: planning from its own output changes nothing', () => {
    const t = team({ maxExpiration: '90d' });
    const s = planTeamStatus(t, keys, T0);
    expect(planTeamStatus({ ...t, status: s }, keys, new Date(T0.getTime() + 5000))).toEqual(s);
  });
});
