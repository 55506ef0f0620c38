import { describe, expect, it } from 'vitest';
import type { ApiKeySpecInput } from '../../api/apikey.ts';
import { plan } from '../apikey/plan.ts';
import { DAY, HOUR, T0, afterApply, apiKey, at, inputs, planWithMint, team, testKeys } from '../apikey/testing.ts';
import type { TeamSpec } from '../../api/team.ts';

// When automatic rotation issues a successor (planner, pure): rotation.before ahead of expiry; never
// before half a key's lifetime (so a `before` longer than the lifetime cannot loop); never when the
// successor could not outlive the key (a fixed datetime expiration).

/** Reconciles at every `step` from T0 to `until`, following requeue-after too; returns when keys were minted (ms after T0). */
function mintTimes(spec: Partial<ApiKeySpecInput>, until: number, step: number, teamSpec: Partial<TeamSpec> = {}) {
  let inp = inputs({ apiKey: apiKey(spec), team: team(teamSpec) });
  const keys = testKeys(3);
  const minted: number[] = [];
  const instants = new Set<number>();
  for (let t = 0; t <= until; t += step) instants.add(t);
  const queue = [...instants].sort((a, b) => a - b);
  while (queue.length > 0) {
    const t = queue.shift()!;
    const s = planWithMint(plan, inp, at(t), keys);
    if (s.key) minted.push(t);
    inp = afterApply(inp, s.plan, s.key);
    const wake = s.plan.requeueAfterMs !== undefined ? t + s.plan.requeueAfterMs : undefined;
    if (wake !== undefined && wake <= until && !queue.includes(wake)) {
      queue.push(wake);
      queue.sort((a, b) => a - b);
    }
  }
  return { minted, status: inp.apiKey!.status! };
}

describe('automatic rotation: when the successor is generated', () => {
  type Row = {
    name: string;
    spec: Partial<ApiKeySpecInput>;
    team?: Partial<TeamSpec>;
    until: number;
    step: number;
    minted: number[];
  };
  const rotation = (before?: string) => ({
    automatic: true,
    ...(before ? { before } : {}),
    handoff: { idle: '1h', maxOverlap: '1d' },
  });
  const rows: Row[] = [
    {
      name: '30d, before 7d: at day 23 exactly (a reconcile a minute earlier issues nothing), then 23 days later',
      spec: { expiration: '30d', rotation: rotation('7d') },
      until: 50 * DAY,
      step: 23 * DAY - 60_000,
      minted: [0, 23 * DAY, 46 * DAY],
    },
    {
      name: '30d, default before (a third): at day 20',
      spec: { expiration: '30d', rotation: rotation() },
      until: 25 * DAY,
      step: DAY,
      minted: [0, 20 * DAY],
    },
    {
      name: 'before longer than the lifetime (1d, before 7d): at half the lifetime, no loop',
      spec: { expiration: '1d', rotation: rotation('7d') },
      until: 2 * DAY,
      step: HOUR,
      minted: [0, 12 * HOUR, DAY, 36 * HOUR, 2 * DAY],
    },
    {
      name: 'team maxExpiration shorter than before (Never capped at 7d, before 14d): at 3.5 days',
      spec: { rotation: rotation('14d') },
      team: { maxExpiration: '7d' },
      until: 4 * DAY,
      step: HOUR,
      minted: [0, 84 * HOUR],
    },
    {
      name: 'fixed datetime: a successor would expire at the same instant, so no automatic rotation',
      spec: { expiration: '2030-01-10T00:00:00Z', rotation: rotation('7d') },
      until: 8 * DAY,
      step: HOUR,
      minted: [0],
    },
    {
      name: 'never expires: nothing to rotate for',
      spec: { rotation: rotation('7d') },
      until: 400 * DAY,
      step: 10 * DAY,
      minted: [0],
    },
  ];
  it.each(rows)('$name', (row) => {
    expect(mintTimes(row.spec, row.until, row.step, row.team).minted).toEqual(row.minted);
  });

  it('the predecessor of an automatic rotation is Superseded, still valid, and never reaches its expiry while used (maxOverlap < before)', () => {
    const { status } = mintTimes({ expiration: '30d', rotation: rotation('7d') }, 25 * DAY, HOUR);
    const [pred, succ] = status.keys!;
    expect(pred).toMatchObject({ state: 'Revoked', revokedReason: expect.stringMatching(/maxOverlap/) });
    expect(Date.parse(pred!.revokedAt!)).toBe(T0.getTime() + 24 * DAY);
    expect(Date.parse(pred!.revokedAt!)).toBeLessThan(Date.parse(pred!.expiresAt!));
    expect(succ).toMatchObject({
      state: 'Active',
      createdAt: at(23 * DAY).toISOString(),
      expiresAt: at(53 * DAY).toISOString(),
    });
  });
});
