// Every condition reason the operator can emit (api/conditions.ts) is produced here by the operator's own
// planner — no hand-built status — and rendered by `keys describe` and `keys list`: the CLI must show the
// reason and its message, and put each reason where its declared kind says (scope refusals, attention).
import { describe, expect, it } from 'vitest';
import { CONDITION_REASONS, reasonKind, type ConditionType } from '../../api/conditions.ts';
import { plan } from '../../operator/apikey/plan.ts';
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
  reconcileUntilQuiet,
  team,
  testKeys,
  withSpec,
} from '../../operator/apikey/testing.ts';
import type { PlanInputs } from '../../operator/apikey/types.ts';
import { renderDescribe } from './describe-view.ts';
import { listRow } from './list-view.ts';
import { servedApiKey } from './testing.ts';

const mintedKeys = testKeys(21); // one generator: every key minted in this file is distinct
const reconcile = (inp: PlanInputs, now: Date): PlanInputs => reconcileUntilQuiet(inp, now, mintedKeys).inp;

const asServed = servedApiKey;

const fresh = () => reconcile(inputs(), T0);
const scenarios: Array<[string, () => { inp: PlanInputs; now: Date }]> = [
  ['a fresh key', () => ({ inp: fresh(), now: T0 })],
  [
    'a key asking for a model the Team does not allow',
    () => ({
      inp: reconcile(
        inputs({ apiKey: apiKey({ allowedModels: ['gpt-4o', 'o3'] }), team: team({ allowedModels: ['gpt-4o'] }) }),
        T0,
      ),
      now: T0,
    }),
  ],
  [
    'expiry longer than the Team allows',
    () => ({ inp: reconcile(inputs({ team: team({ maxExpiration: '30d' }) }), T0), now: T0 }),
  ],
  ['an invalid spec', () => ({ inp: reconcile(inputs({ apiKey: apiKey({ expiration: 'soon' }) }), T0), now: T0 })],
  ['the Team deleted', () => ({ inp: reconcile({ ...fresh(), team: undefined }, at(HOUR)), now: at(HOUR) })],
  [
    'an invalid Team',
    () => ({ inp: reconcile({ ...fresh(), team: team({ allowedModels: [] }) }, at(HOUR)), now: at(HOUR) }),
  ],
  [
    'no allowed model',
    () => ({
      inp: reconcile(
        inputs({ apiKey: apiKey({ allowedModels: ['o3'] }), team: team({ allowedModels: ['gpt-4o'] }) }),
        T0,
      ),
      now: T0,
    }),
  ],
  [
    'no allowed endpoint',
    () => ({
      inp: reconcile(
        inputs({
          apiKey: apiKey({ allowedEndpoints: ['/embeddings'] }),
          team: team({ allowedEndpoints: ['/chat/completions'] }),
        }),
        T0,
      ),
      now: T0,
    }),
  ],
  [
    'a key source allowlist sharing no address with the Team lists',
    () => ({
      inp: reconcile(
        inputs({
          apiKey: apiKey({ ipAllowlist: ['198.51.100.0/24'] }),
          team: team({ ipAllowlistFrom: [{ configMapKeyRef: { name: 'team-ranges', key: 'cidrs' } }] }),
          teamIpAllowlistFrom: { ok: true, cidrs: ['10.0.0.0/8'] },
        }),
        T0,
      ),
      now: T0,
    }),
  ],
  [
    'an ipAllowlistFrom ConfigMap with a bad line',
    () => ({
      inp: reconcile(
        inputs({
          apiKey: apiKey({ ipAllowlistFrom: [{ configMapKeyRef: { name: 'ci-ranges', key: 'cidrs' } }] }),
          ipAllowlistFrom: {
            ok: false,
            error: 'ConfigMap ci-ranges key "cidrs": line 3 ("x") is not a CIDR block or IP address',
          },
        }),
        T0,
      ),
      now: T0,
    }),
  ],
  [
    'a Secret of the same name someone else owns',
    () => ({
      inp: reconcile(
        inputs({
          secret: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'checkout', namespace: NS }, data: {} },
        }),
        T0,
      ),
      now: T0,
    }),
  ],
  ['spec.revoked', () => ({ inp: reconcile(withSpec(fresh(), { revoked: true }), at(HOUR)), now: at(HOUR) })],
  [
    'one key id revoked (the current one: a fresh id is pending)',
    () => {
      const f = fresh();
      const id = f.apiKey!.status!.currentKeyId!;
      const revoked = planWithMint(plan, withSpec(f, { revokedKeyIds: [id] }), at(HOUR), mintedKeys);
      return { inp: afterApply(withSpec(f, { revokedKeyIds: [id] }), revoked.plan, revoked.key), now: at(HOUR) };
    },
  ],
  [
    'a key past its 30d expiry',
    () => ({
      inp: reconcile(reconcile(inputs({ apiKey: apiKey({ expiration: '30d' }) }), T0), at(31 * DAY)),
      now: at(31 * DAY),
    }),
  ],
  [
    'a key expiring in 5 days',
    () => ({
      inp: reconcile(reconcile(inputs({ apiKey: apiKey({ expiration: '30d' }) }), T0), at(25 * DAY)),
      now: at(25 * DAY),
    }),
  ],
  [
    'a key expiring in 30 days',
    () => ({ inp: reconcile(inputs({ apiKey: apiKey({ expiration: '30d' }) }), T0), now: T0 }),
  ],
  [
    'an expiration datetime already past',
    () => ({ inp: reconcile(inputs({ apiKey: apiKey({ expiration: '2020-01-01T00:00:00Z' }) }), T0), now: T0 }),
  ],
  [
    'a rotation waiting for hand-off',
    () => ({ inp: reconcile(withSpec(fresh(), {}, { 'keys.nemorouter.io/rotate': '1' }), at(HOUR)), now: at(HOUR) }),
  ],
  [
    'a manual hand-off waiting for the user',
    () => ({
      inp: reconcile(
        withSpec(
          reconcile(inputs({ apiKey: apiKey({ rotation: { handoff: { mode: 'Manual' } } }) }), T0),
          {},
          { 'keys.nemorouter.io/rotate': '1' },
        ),
        at(HOUR),
      ),
      now: at(HOUR),
    }),
  ],
  [
    'restart targets that exist',
    () => ({
      inp: reconcile(
        inputs({
          apiKey: apiKey({ rotation: { restartTargets: [{ kind: 'Deployment', name: 'web' }] } }),
          restartTargets: new Map([['Deployment/web', true]]),
        }),
        T0,
      ),
      now: T0,
    }),
  ],
  [
    'a restart target that does not exist',
    () => ({
      inp: reconcile(
        inputs({
          apiKey: apiKey({ rotation: { restartTargets: [{ kind: 'Deployment', name: 'web' }] } }),
          restartTargets: new Map([['Deployment/web', false]]),
        }),
        T0,
      ),
      now: T0,
    }),
  ],
];

describe('every condition reason the operator emits is shown by the CLI', () => {
  const seen = new Map<string, string>();
  it.each(scenarios)('%s', (_name, build) => {
    const { inp, now } = build();
    const obj = asServed(inp);
    const conditions = obj.status?.conditions ?? [];
    expect(conditions.length).toBeGreaterThan(0);
    const text = renderDescribe(obj, now);
    const row = listRow(obj, now).join(' ');
    for (const c of conditions) {
      const kind = reasonKind(c.type, c.reason);
      expect(kind, `${c.type}/${c.reason} is declared in api/conditions.ts`).toBeDefined();
      seen.set(`${c.type}/${c.reason}`, _name);
      // the conditions table: type, status, reason, message — all on the condition's row
      expect(text).toMatch(
        new RegExp(`${c.type}\\s+${c.status}\\s+${c.reason}\\s+\\S+ ago\\s+${escapeRegExp(c.message.slice(0, 40))}`),
      );
      if (kind === 'scopeRefusal') expect(text).toContain(`Scopes refused`);
      if (kind === 'scopeRefusal' || kind === 'blocked' || kind === 'note')
        expect(text).toContain(`${c.type}/${c.reason}: ${c.message.slice(0, 40)}`);
      if (c.type === 'Ready' && c.status === 'False' && obj.spec?.revoked !== true && c.reason !== 'Expired')
        expect(row).toContain(`NotReady (${c.reason})`);
    }
  });

  it('the scenarios above cover every declared reason (a new reason needs a scenario)', () => {
    const declared = Object.entries(CONDITION_REASONS).flatMap(([type, reasons]) =>
      Object.keys(reasons).map((r) => `${type as ConditionType}/${r}`),
    );
    expect([...seen.keys()].sort()).toEqual(declared.sort());
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
