import { describe, expect, it } from 'vitest';
import { parseCidrList } from '../../api/cidr-list.ts';
import { RECORD_DATA_KEY } from '../../api/constants.ts';
import { parseKeyRecord } from '../../api/record.ts';
import { plan } from './plan.ts';
import { T0, apiKey, inputs, reconcileUntilQuiet, team, testKeys } from './testing.ts';
import type { ApplyPlan, PlanInputs, ResolvedAllowlist } from './types.ts';

// spec.ipAllowlistFrom in the planner (docs/design.md §2): the lists are added to spec.ipAllowlist, and a
// reference that cannot be read — or reads as nothing — suspends the key instead of allowing any source.

const ref = [{ configMapKeyRef: { name: 'ci-ranges', key: 'cidrs' } }];
const recordsOf = (p: ApplyPlan) =>
  p.records.map((s) => {
    const parsed = parseKeyRecord(Buffer.from(s.data![RECORD_DATA_KEY]!, 'base64').toString('utf8'));
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.record;
  });
const ready = (p: ApplyPlan) => p.status?.conditions?.find((c) => c.type === 'Ready');

type ListInput = 'ipAllowlistFrom' | 'teamIpAllowlistFrom';

/** A key issued from `start`, then one more plan with `from` as the list read for `field` (undefined: not read). */
function planAfterIssue(start: PlanInputs, field: ListInput, from: ResolvedAllowlist | undefined): ApplyPlan {
  const { inp } = reconcileUntilQuiet(start, T0, testKeys());
  const next: PlanInputs = { ...inp };
  if (from) next[field] = from;
  else delete next[field];
  const p = plan(next, T0);
  if (p.kind !== 'apply') throw new Error(`expected apply, got ${p.kind}`);
  return p;
}

/** An issued key (list readable), then one more plan with `from` as the list. */
function issuedThen(from: ResolvedAllowlist | undefined, spec = {}): ApplyPlan {
  const ok: ResolvedAllowlist = { ok: true, cidrs: ['192.0.2.0/24'] };
  const start = inputs({ apiKey: apiKey({ ipAllowlistFrom: ref, ...spec }), ipAllowlistFrom: ok });
  return planAfterIssue(start, 'ipAllowlistFrom', from);
}

/** Fails closed: every record Suspended with no scopes, and Ready says why. */
function expectSuspended(p: ApplyPlan, reason: string, says: string): void {
  expect(recordsOf(p)).toMatchObject([
    { state: 'Suspended', suspendedReason: reason, scopes: { models: [], ipAllowlist: [] } },
  ]);
  expect(ready(p)).toMatchObject({ status: 'False', reason, message: expect.stringContaining(says) });
}

describe('plan: spec.ipAllowlistFrom', () => {
  it('adds the list to spec.ipAllowlist in the record (sorted, deduplicated)', () => {
    const p = issuedThen({ ok: true, cidrs: ['198.51.100.0/24', '10.0.0.0/8'] }, { ipAllowlist: ['10.0.0.0/8'] });
    expect(recordsOf(p)).toMatchObject([
      { state: 'Active', scopes: { ipAllowlist: ['10.0.0.0/8', '198.51.100.0/24'] } },
    ]);
    expect(ready(p)).toMatchObject({ status: 'True', reason: 'KeyReady' });
  });

  it.each<[string, ResolvedAllowlist | undefined, string]>([
    [
      'a bad line',
      parseCidrList('10.0.0.0/8\n# x\nnot-an-ip\n'),
      'line 3 ("not-an-ip") is not a CIDR block or IP address',
    ],
    ['a missing ConfigMap', { ok: false, error: 'ConfigMap ci-ranges not found' }, 'ConfigMap ci-ranges not found'],
    ['an empty list', { ok: true, cidrs: [] }, 'lists no address'],
    ['a list not read yet', undefined, 'has not been read yet'],
  ])('fails closed on %s: the key is suspended with no scopes, and Ready says why', (_, from, says) => {
    expectSuspended(issuedThen(from), 'IpAllowlistUnresolved', says);
  });

  it('does not issue a key while the list cannot be read', () => {
    const p = plan(
      inputs({ apiKey: apiKey({ ipAllowlistFrom: ref }), ipAllowlistFrom: { ok: false, error: 'x' } }),
      T0,
    );
    expect(p).toMatchObject({ kind: 'apply', records: [] });
  });

  it('keeps a record with 5 000 CIDRs far below the 1 MiB object limit', () => {
    const cidrs = Array.from(
      { length: 5_000 },
      (_, i) => `2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}00::/56`,
    );
    const p = issuedThen({ ok: true, cidrs });
    expect(recordsOf(p)[0]!.scopes.ipAllowlist).toHaveLength(5_000);
    const bytes = Buffer.byteLength(JSON.stringify(p.records[0]));
    expect(bytes).toBeLessThan(512 * 1024);
    console.log(`record Secret with 5 000 CIDRs: ${bytes} bytes`);
  });
});

// Team.spec.ipAllowlistFrom (docs/design.md §2, "Team lists"): every key of the team is confined to the
// Team's lists (key ∩ team); a Team list that cannot be read suspends every key of the team.
describe('plan: Team spec.ipAllowlistFrom', () => {
  const teamRef = [{ configMapKeyRef: { name: 'team-ranges', key: 'cidrs' } }];
  const teamWithList = team({ ipAllowlistFrom: teamRef });
  const teamOk: ResolvedAllowlist = { ok: true, cidrs: ['10.0.0.0/8'] };

  /** An issued key under a Team with a readable list, then one more plan with `from` as the Team's list. */
  function teamIssuedThen(teamFrom: ResolvedAllowlist | undefined, spec = {}, keyFrom?: ResolvedAllowlist): ApplyPlan {
    const start = inputs({
      apiKey: apiKey(spec),
      team: teamWithList,
      teamIpAllowlistFrom: teamOk,
      ...(keyFrom ? { ipAllowlistFrom: keyFrom } : {}),
    });
    return planAfterIssue(start, 'teamIpAllowlistFrom', teamFrom);
  }

  it.each<[string, object, ResolvedAllowlist | undefined, string[], string]>([
    ['a key without a list gets the Team list', {}, undefined, ['10.0.0.0/8', '192.0.2.0/24'], 'KeyReady'],
    ['a key inside the Team keeps its own', { ipAllowlist: ['10.1.0.0/16'] }, undefined, ['10.1.0.0/16'], 'KeyReady'],
    [
      'a key list (ConfigMap) wider than the Team is narrowed, and Ready says so',
      { ipAllowlistFrom: ref },
      { ok: true, cidrs: ['0.0.0.0/0'] },
      ['10.0.0.0/8', '192.0.2.0/24'],
      'ScopesRestricted',
    ],
  ])('%s', (_, spec, keyFrom, allowlist, reason) => {
    const p = teamIssuedThen({ ok: true, cidrs: ['10.0.0.0/8', '192.0.2.0/24'] }, spec, keyFrom);
    expect(recordsOf(p)).toMatchObject([{ state: 'Active', scopes: { ipAllowlist: allowlist } }]);
    expect(ready(p)).toMatchObject({ status: 'True', reason });
    if (reason === 'ScopesRestricted') expect(ready(p)?.message).toContain('0.0.0.0/0');
  });

  it.each<[string, ResolvedAllowlist | undefined, string]>([
    [
      'a bad line',
      { ok: false, error: 'ConfigMap team-ranges key "cidrs": line 2 ("10.0.0/8") is not a CIDR block or IP address' },
      'Team "payments" spec.ipAllowlistFrom: ConfigMap team-ranges key "cidrs": line 2 ("10.0.0/8")',
    ],
    ['a missing ConfigMap', { ok: false, error: 'ConfigMap team-ranges not found' }, 'ConfigMap team-ranges not found'],
    ['an empty list', { ok: true, cidrs: [] }, 'Team "payments" spec.ipAllowlistFrom lists no address'],
    ['a list not read yet', undefined, 'Team "payments" spec.ipAllowlistFrom has not been read yet'],
  ])('fails closed on %s of the Team: the key is suspended with no scopes, Ready names it', (_, from, says) => {
    for (const spec of [{}, { ipAllowlist: ['10.1.0.0/16'] }]) {
      expectSuspended(teamIssuedThen(from, spec), 'IpAllowlistUnresolved', says);
    }
  });

  it('suspends a key whose sources share no address with the Team (never "any source")', () => {
    expectSuspended(
      teamIssuedThen({ ok: true, cidrs: ['198.51.100.0/24'] }, { ipAllowlist: ['10.1.0.0/16'] }),
      'NoAllowedSources',
      '(10.1.0.0/16) is inside the ipAllowlistFrom lists of Team "payments"',
    );
  });

  it('does not issue a key while the Team list cannot be read', () => {
    const p = plan(
      inputs({ team: teamWithList, teamIpAllowlistFrom: { ok: false, error: 'ConfigMap team-ranges not found' } }),
      T0,
    );
    expect(p).toMatchObject({ kind: 'apply', records: [] });
  });
});
