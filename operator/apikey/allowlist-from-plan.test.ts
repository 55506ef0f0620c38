import { describe, expect, it } from 'vitest';
import { parseCidrList } from '../../api/cidr-list.ts';
import { RECORD_DATA_KEY } from '../../api/constants.ts';
import { parseKeyRecord } from '../../api/record.ts';
import { plan } from './plan.ts';
import { T0, apiKey, inputs, reconcileUntilQuiet, testKeys } from './testing.ts';
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

/** An issued key (list readable), then one more plan with `from` as the list. */
function issuedThen(from: ResolvedAllowlist | undefined, spec = {}): ApplyPlan {
  const ok: ResolvedAllowlist = { ok: true, cidrs: ['192.0.2.0/24'] };
  const start = inputs({ apiKey: apiKey({ ipAllowlistFrom: ref, ...spec }), ipAllowlistFrom: ok });
  const { inp } = reconcileUntilQuiet(start, T0, testKeys());
  const next: PlanInputs = { ...inp };
  if (from) next.ipAllowlistFrom = from;
  else delete next.ipAllowlistFrom;
  const p = plan(next, T0);
  if (p.kind !== 'apply') throw new Error(`expected apply, got ${p.kind}`);
  return p;
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
    const p = issuedThen(from);
    expect(recordsOf(p)).toMatchObject([
      { state: 'Suspended', suspendedReason: 'IpAllowlistUnresolved', scopes: { models: [], ipAllowlist: [] } },
    ]);
    expect(ready(p)).toMatchObject({
      status: 'False',
      reason: 'IpAllowlistUnresolved',
      message: expect.stringContaining(says),
    });
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
