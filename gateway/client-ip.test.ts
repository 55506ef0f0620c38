import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { clientIp, compileCidrs, inCidrs, parseIp } from './client-ip.ts';

const str = (ip: ReturnType<typeof parseIp>) => (ip === undefined ? undefined : `${ip.kind()} ${ip.toString()}`);

describe('parseIp', () => {
  it.each([
    ['10.0.0.1', 'ipv4 10.0.0.1'],
    [' 10.0.0.1 ', 'ipv4 10.0.0.1'],
    ['10.0.0.1:8080', 'ipv4 10.0.0.1'],
    ['::1', 'ipv6 ::1'],
    ['[::1]', 'ipv6 ::1'],
    ['[2001:db8::1]:443', 'ipv6 2001:db8::1'],
    ['::ffff:10.0.0.1', 'ipv4 10.0.0.1'],
    ['[::ffff:10.0.0.1]:80', 'ipv4 10.0.0.1'],
    ['::ffff:a00:1', 'ipv4 10.0.0.1'],
    ['fe80::1%eth0', 'ipv6 fe80::1'],
    ['[fe80::1%25eth0]', 'ipv6 fe80::1'], // zones are host-local: dropped whatever their spelling
    ['fe80::1%', undefined],
    ['fe80::1%eth0/../x', undefined],
    ['', undefined],
    ['unknown', undefined],
    ['010.0.0.1', undefined], // octal-looking: ambiguous between parsers, refuse
    ['0x7f.1', undefined],
    ['10.1', undefined],
    ['256.0.0.1', undefined],
    ['1.2.3.4:99999999', undefined],
    ['1.2.3.4:', undefined],
    ['[1.2.3.4]', undefined],
    ['[::1', undefined],
    ['[::1]x', undefined],
    ['1::2::3', undefined],
    ['a'.repeat(500), undefined],
  ])('%j → %s', (input, expected) => {
    expect(str(parseIp(input))).toBe(expected);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (s) => {
        parseIp(s);
      }),
    );
  });
});

describe('compileCidrs / inCidrs', () => {
  const list = compileCidrs(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::ffff:172.16.0.0/108']);
  it.each([
    ['10.200.3.4', true],
    ['::ffff:10.200.3.4', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['2001:db8:1::5', true],
    ['[2001:db8::5]:443', true],
    ['2001:db9::1', false],
    ['172.16.5.5', true], // mapped IPv6 block folded to 172.16.0.0/12
    ['172.32.0.1', false],
    ['::1', false],
  ])('%s in list → %s', (ip, expected) => {
    expect(inCidrs(parseIp(ip), list)).toBe(expected);
  });

  it('an empty list admits any source, but an unknown source only then', () => {
    expect(inCidrs(undefined, compileCidrs([]))).toBe(true);
    expect(inCidrs(undefined, list)).toBe(false);
  });

  it('bad entries only narrow: a list of only bad entries matches nothing', () => {
    const bad = compileCidrs(['not-an-ip', '10.0.0.0/33', 'fe80::/10%eth0']);
    expect(bad.any).toBe(false);
    expect(inCidrs(parseIp('10.0.0.1'), bad)).toBe(false);
    expect(inCidrs(parseIp('fe80::1'), bad)).toBe(false);
  });

  it('strict mode rejects bad configuration loudly', () => {
    expect(() => compileCidrs(['10.0.0.0/8', 'nope'], { strict: true })).toThrow(/nope/);
  });
});

describe('clientIp (X-Forwarded-For)', () => {
  const trusted = compileCidrs(['10.0.0.0/8', 'fd00::/8']);
  it.each([
    ['untrusted peer ignores XFF', '203.0.113.9', '1.1.1.1', 'ipv4 203.0.113.9'],
    ['trusted peer, one hop', '10.0.0.2', '198.51.100.7', 'ipv4 198.51.100.7'],
    ['client-typed left entries are ignored', '10.0.0.2', '6.6.6.6, 198.51.100.7', 'ipv4 198.51.100.7'],
    [
      'right-most untrusted through a trusted chain',
      '10.0.0.2',
      '6.6.6.6, 198.51.100.7, 10.1.1.1',
      'ipv4 198.51.100.7',
    ],
    ['all trusted: the left-most', '10.0.0.2', '10.9.9.9, 10.1.1.1', 'ipv4 10.9.9.9'],
    ['mapped peer is folded before the trust check', '::ffff:10.0.0.2', '198.51.100.7', 'ipv4 198.51.100.7'],
    ['IPv6 hops with brackets and ports', 'fd00::1', '[2001:db8::7]:5555', 'ipv6 2001:db8::7'],
    ['garbage inside the trusted chain: unknown', '10.0.0.2', '198.51.100.7, garbage', undefined],
    ['empty hop: unknown', '10.0.0.2', '198.51.100.7,,', undefined],
    ['no XFF: the trusted peer itself', '10.0.0.2', undefined, 'ipv4 10.0.0.2'],
    ['peer unparseable', 'garbage', '1.1.1.1', undefined],
  ])('%s', (_name, peer, xff, expected) => {
    expect(str(clientIp(peer, xff, trusted))).toBe(expected);
  });

  it('without trusted proxies XFF is never believed', () => {
    expect(str(clientIp('10.0.0.2', '198.51.100.7', compileCidrs([])))).toBe('ipv4 10.0.0.2');
  });

  it('repeated XFF headers are one list', () => {
    expect(str(clientIp('10.0.0.2', ['6.6.6.6', '198.51.100.7'], trusted))).toBe('ipv4 198.51.100.7');
  });

  it('an overlong trusted chain is unknown rather than walked forever', () => {
    expect(clientIp('10.0.0.2', Array(100).fill('10.0.0.3').join(','), trusted)).toBeUndefined();
  });
});
