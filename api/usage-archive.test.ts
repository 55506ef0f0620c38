import { describe, expect, it } from 'vitest';
import { ownAndPeers, USAGE_ARCHIVE_GATEWAY, USAGE_ARCHIVE_NAME, type StoredReport } from './usage-archive.ts';

const T = '2026-11-27T12:00:00.000Z';
const stored = (name: string, rv: string, absorbed?: Record<string, string>): StoredReport => ({
  name,
  resourceVersion: rv,
  report: { gateway: name, updatedAt: T, keys: {}, ...(absorbed ? { absorbed } : {}) },
});
const archive = (absorbed: Record<string, string>) => ({
  ...stored(USAGE_ARCHIVE_NAME, 'a1', absorbed),
  report: { gateway: USAGE_ARCHIVE_GATEWAY, updatedAt: T, keys: {}, absorbed },
});

// What a gateway continues from and what it adds as peers, with the operator's archive around.
describe('ownAndPeers', () => {
  const me = 'nemokeys-usage-me';
  const cases: Array<{ name: string; reports: StoredReport[]; own: string | undefined; peers: string[] }> = [
    {
      name: 'no archive: own continued, others are peers',
      reports: [stored(me, '5'), stored('nemokeys-usage-b', '6')],
      own: me,
      peers: ['nemokeys-usage-b'],
    },
    {
      name: 'the archive is a peer like any other report',
      reports: [stored(me, '5'), archive({})],
      own: me,
      peers: [USAGE_ARCHIVE_NAME],
    },
    {
      name: 'a peer version the archive absorbed is not added twice',
      reports: [stored(me, '5'), stored('nemokeys-usage-b', '6'), archive({ 'nemokeys-usage-b': '6' })],
      own: me,
      peers: [USAGE_ARCHIVE_NAME],
    },
    {
      name: 'a peer rewritten after it was absorbed is added (fresh counts)',
      reports: [stored('nemokeys-usage-b', '7'), archive({ 'nemokeys-usage-b': '6' })],
      own: undefined,
      peers: ['nemokeys-usage-b', USAGE_ARCHIVE_NAME],
    },
    {
      name: 'own version absorbed: start from zero (the archive carries it)',
      reports: [stored(me, '5'), archive({ [me]: '5' })],
      own: undefined,
      peers: [USAGE_ARCHIVE_NAME],
    },
    {
      name: 'own rewritten since it was absorbed: continued',
      reports: [stored(me, '8'), archive({ [me]: '5' })],
      own: me,
      peers: [USAGE_ARCHIVE_NAME],
    },
  ];
  it.each(cases)('$name', ({ reports, own, peers }) => {
    const r = ownAndPeers(reports, me);
    expect(r.own?.name).toBe(own);
    expect(r.peers.map((p) => p.name)).toEqual(peers);
  });
});
