import { describe, expect, it } from 'vitest';
import { countedReports, USAGE_ARCHIVE_GATEWAY, USAGE_ARCHIVE_NAME } from '../../api/usage-archive.ts';
import type { KeyUsage, UsageReport } from '../../api/usage.ts';
import { planFold, type ListedReport } from './fold-plan.ts';

const NOW = new Date('2026-11-27T12:00:00.000Z');
const HOUR = 3_600_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const use = (requests: number, credits: number, at: string, spend?: KeyUsage['spend']): KeyUsage => ({
  requests,
  credits,
  lastUsedAt: at,
  ...(spend ? { spend } : {}),
});
const report = (name: string, rv: string, updatedAt: string, keys: Record<string, KeyUsage>): ListedReport => ({
  name,
  resourceVersion: rv,
  report: { gateway: name, updatedAt, keys },
});
const archive = (rv: string, keys: Record<string, KeyUsage>, absorbed: Record<string, string>): ListedReport => ({
  name: USAGE_ARCHIVE_NAME,
  resourceVersion: rv,
  report: { gateway: USAGE_ARCHIVE_GATEWAY, updatedAt: ago(HOUR), keys, absorbed },
});

/** Sum of credits and requests per key id over what readers count (the archive included). */
function counted(reports: ListedReport[]): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  const stored = reports.filter((r): r is ListedReport & { report: UsageReport } => r.report !== undefined);
  for (const r of countedReports(stored)) {
    for (const [id, u] of Object.entries(r.report.keys)) {
      const t = out[id] ?? [0, 0];
      out[id] = [t[0] + u.requests, t[1] + u.credits];
    }
  }
  return out;
}

/** Applies a plan the way the fold writer does: archive first, then the deletes at their versions. */
function apply(reports: ListedReport[], plan: ReturnType<typeof planFold>, rv = 'a2'): ListedReport[] {
  let next = reports;
  if (plan.archive) {
    next = next
      .filter((r) => r.name !== USAGE_ARCHIVE_NAME)
      .concat({ name: USAGE_ARCHIVE_NAME, resourceVersion: rv, report: plan.archive });
  }
  return next.filter((r) => !plan.deletes.some((d) => d.name === r.name && d.resourceVersion === r.resourceVersion));
}

const gone = report('nemokeys-usage-old', '7', ago(2 * HOUR), {
  k1: use(3, 30, ago(2 * HOUR), { window: 'd1', credits: 30 }),
});
const live = report('nemokeys-usage-live', '9', ago(1000), {
  k1: use(1, 10, ago(1000), { window: 'd1', credits: 10 }),
  k2: use(2, 5, ago(1000)),
});

describe('planFold', () => {
  const cases: Array<{
    name: string;
    reports: ListedReport[];
    write: boolean;
    deletes: string[];
    folded: string[];
    absorbed?: Record<string, string>;
  }> = [
    { name: 'nothing stale: no write, no delete', reports: [live], write: false, deletes: [], folded: [] },
    {
      name: 'stale report without archive: archive created, then deleted at its version',
      reports: [live, gone],
      write: true,
      deletes: ['nemokeys-usage-old@7'],
      folded: ['nemokeys-usage-old'],
      absorbed: { 'nemokeys-usage-old': '7' },
    },
    {
      name: 'exactly at the age: folded',
      reports: [report('nemokeys-usage-x', '3', ago(HOUR), {})],
      write: true,
      deletes: ['nemokeys-usage-x@3'],
      folded: ['nemokeys-usage-x'],
      absorbed: { 'nemokeys-usage-x': '3' },
    },
    {
      name: 'crash after the archive write: only the delete is left, no second write',
      reports: [live, gone, archive('a1', gone.report!.keys, { 'nemokeys-usage-old': '7' })],
      write: false,
      deletes: ['nemokeys-usage-old@7'],
      folded: [],
    },
    {
      name: 'delete done: the absorbed name is forgotten (one write)',
      reports: [live, archive('a1', gone.report!.keys, { 'nemokeys-usage-old': '7' })],
      write: true,
      deletes: [],
      folded: [],
      absorbed: {},
    },
    {
      name: 'the writer came back before the delete (new version, fresh counts): counted, not deleted',
      reports: [
        report('nemokeys-usage-old', '8', ago(1000), { k1: use(1, 1, ago(1000)) }),
        archive('a1', gone.report!.keys, { 'nemokeys-usage-old': '7' }),
      ],
      write: false,
      deletes: [],
      folded: [],
    },
    {
      name: 'an unreadable report is never folded nor deleted',
      reports: [{ name: 'nemokeys-usage-bad', resourceVersion: '4', report: undefined }],
      write: false,
      deletes: [],
      folded: [],
    },
  ];
  it.each(cases)('$name', ({ reports, write, deletes, folded, absorbed }) => {
    const plan = planFold(reports, NOW, HOUR);
    expect(plan.archive !== undefined).toBe(write);
    expect(plan.deletes.map((d) => `${d.name}@${d.resourceVersion}`)).toEqual(deletes);
    expect(plan.folded).toEqual(folded);
    if (absorbed) expect(plan.archive?.absorbed).toEqual(absorbed);
  });

  it('an archive that does not decode blocks the pass (nothing overwritten, nothing deleted)', () => {
    const plan = planFold([gone, { name: USAGE_ARCHIVE_NAME, resourceVersion: '1', report: undefined }], NOW, HOUR);
    expect(plan.archive).toBeUndefined();
    expect(plan).toMatchObject({ deletes: [], blocked: expect.stringContaining('does not decode') });
  });

  it('drops key ids without a record from the archive once unused for the fold age (deleted ApiKeys)', () => {
    const a = archive(
      'a1',
      { gone1: use(1, 1, ago(2 * HOUR)), recent: use(1, 1, ago(1000)), kept: use(2, 2, ago(2 * HOUR)) },
      {},
    );
    const plan = planFold([a], NOW, HOUR, (id) => id === 'kept');
    expect(Object.keys(plan.archive?.keys ?? {}).sort()).toEqual(['kept', 'recent']);
    const again = planFold([{ ...a, report: plan.archive }], NOW, HOUR, (id) => id === 'kept');
    expect(again.archive).toBeUndefined(); // converged: nothing more to drop, no write
  });

  it('merges counts and same-window spend; of two windows keeps the later use', () => {
    const a = archive(
      'a1',
      { k1: use(5, 50, ago(3 * HOUR), { window: 'd0', credits: 50 }), k3: use(1, 1, ago(3 * HOUR)) },
      {},
    );
    const g2 = report('nemokeys-usage-g2', '8', ago(2 * HOUR), {
      k1: use(2, 20, ago(2 * HOUR), { window: 'd1', credits: 20 }),
    });
    const plan = planFold([a, gone, g2], NOW, HOUR);
    expect(plan.archive?.keys).toEqual({
      k1: { requests: 10, credits: 100, lastUsedAt: ago(2 * HOUR), spend: { window: 'd1', credits: 50 } },
      k3: use(1, 1, ago(3 * HOUR)),
    });
    expect(plan.folded).toEqual(['nemokeys-usage-old', 'nemokeys-usage-g2']);
  });

  // Every prefix of the pass (archive written, then each delete) counts each report exactly once, and a
  // crashed pass converges when the next one runs on what it left.
  it('counts stay exact at every step of a pass and across a crashed pass', () => {
    const g2 = report('nemokeys-usage-g2', '8', ago(2 * HOUR), { k2: use(4, 40, ago(2 * HOUR)) });
    const start = [live, gone, g2];
    const expected = counted(start);
    const plan = planFold(start, NOW, HOUR);
    const afterArchive = apply(start, { ...plan, deletes: [] });
    expect(counted(afterArchive)).toEqual(expected);
    const afterOneDelete = apply(afterArchive, { deletes: plan.deletes.slice(0, 1), folded: [] });
    expect(counted(afterOneDelete)).toEqual(expected);
    // crash here; the next pass finishes the deletes without folding anything again (its write only
    // forgets the name already deleted)
    const resumed = planFold(afterOneDelete, NOW, HOUR);
    expect(resumed.folded).toEqual([]);
    expect(resumed.archive?.keys).toEqual(afterArchive.find((r) => r.name === USAGE_ARCHIVE_NAME)?.report?.keys);
    expect(resumed.deletes).toEqual(plan.deletes.slice(1));
    const done = apply(afterOneDelete, resumed);
    expect(counted(done)).toEqual(expected);
    expect(done.map((r) => r.name).sort()).toEqual([USAGE_ARCHIVE_NAME, 'nemokeys-usage-live']);
    // and then the absorbed names are forgotten in one more write, counts unchanged
    const tidy = planFold(done, NOW, HOUR);
    expect(tidy.archive?.absorbed).toEqual({});
    const tidied = apply(done, tidy, 'a3');
    expect(counted(tidied)).toEqual(expected);
    expect(planFold(tidied, NOW, HOUR)).toEqual({ deletes: [], folded: [] }); // converged: no more writes
  });
});
