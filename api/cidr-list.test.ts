import { describe, expect, it } from 'vitest';
import { CIDR_LIST_MAX_ENTRIES, parseCidrList } from './cidr-list.ts';

describe('parseCidrList', () => {
  it.each([
    ['', []],
    ['10.0.0.0/8\n', ['10.0.0.0/8']],
    [
      '# GitHub Actions\n\n  192.0.2.0/24  \r\n2001:db8::/32 # v6\n127.0.0.1',
      ['192.0.2.0/24', '2001:db8::/32', '127.0.0.1'],
    ],
  ])('reads %j', (text, cidrs) => {
    expect(parseCidrList(text)).toEqual({ ok: true, cidrs });
  });

  it.each([
    ['10.0.0.0/8\n\n10.0.0.300/32\n', 'line 3 ("10.0.0.300/32") is not a CIDR block or IP address'],
    ['# ok\nexample.com', 'line 2 ("example.com") is not a CIDR block or IP address'],
    ['10.0.0.0/33', 'line 1 ("10.0.0.0/33") is not a CIDR block or IP address'],
    ['fe80::1%eth0', 'line 1 ("fe80::1%eth0") is not a CIDR block or IP address'],
  ])('names the bad line in %j', (text, error) => {
    expect(parseCidrList(text)).toEqual({ ok: false, error });
  });

  it('refuses a list past the entry limit', () => {
    const text = Array.from(
      { length: CIDR_LIST_MAX_ENTRIES + 1 },
      (_, i) => `10.${(i >> 8) & 255}.${i & 255}.${i >> 16}`,
    ).join('\n');
    expect(parseCidrList(text)).toMatchObject({ ok: false, error: expect.stringContaining('more than') });
  });
});
