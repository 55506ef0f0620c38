import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { USAGE_DATA_KEY } from './constants.ts';
import { decodeUsageReport, encodeUsageReport, USAGE_GZ_DATA_KEY, type UsageReport } from './usage.ts';

const report: UsageReport = {
  gateway: 'gw-1',
  instance: 'abc',
  updatedAt: '2026-01-02T03:04:05.678Z',
  keys: {
    k1: { requests: 2, credits: 30, lastUsedAt: '2026-01-02T03:04:00.001Z', spend: { window: 'm24312', credits: 30 } },
    k2: { requests: 1, credits: 0, lastUsedAt: '2025-12-31T23:59:59.999Z' },
  },
};

describe('usage report codec', () => {
  it('round-trips', () => {
    expect(decodeUsageReport(encodeUsageReport(report))).toEqual({ ok: true, report });
  });

  it('still reads the plain JSON reports of earlier gateways', () => {
    const legacy = {
      gateway: 'old',
      updatedAt: report.updatedAt,
      keys: { k: { requests: 1, credits: 2, lastUsedAt: report.updatedAt } },
    };
    expect(decodeUsageReport({ data: { [USAGE_DATA_KEY]: JSON.stringify(legacy) } })).toEqual({
      ok: true,
      report: legacy,
    });
  });

  it.each([
    ['no payload', {}, /neither binaryData.usage.json.gz nor data.usage.json/],
    ['not gzip', { binaryData: { [USAGE_GZ_DATA_KEY]: 'aGVsbG8=' } }, /not gzip/],
    ['gzip of junk', { binaryData: { [USAGE_GZ_DATA_KEY]: gzipSync('{"v":2}').toString('base64') } }, /gateway/],
    [
      'negative count',
      {
        binaryData: {
          [USAGE_GZ_DATA_KEY]: gzipSync(
            JSON.stringify({ v: 2, gateway: 'g', updatedAt: 1, keys: { k: [-1, 0, 0] }, spend: {} }),
          ).toString('base64'),
        },
      },
      /keys/,
    ],
    ['legacy junk', { data: { [USAGE_DATA_KEY]: '{' } }, /data.usage.json/],
  ])('%s → an error saying what is wrong, no throw', (_what, cm, message) => {
    const r = decodeUsageReport(cm);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toMatch(message);
  });
});
