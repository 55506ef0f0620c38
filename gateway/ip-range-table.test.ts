import { describe, expect, it } from 'vitest';
import { compileCidrs, inCidrs, parseIp } from './client-ip.ts';
import { ipRangeTable } from './ip-range-table.ts';

const table = (entries: string[]) => ipRangeTable(compileCidrs(entries));
const allowed = (entries: string[], ip: string) => table(entries).contains(parseIp(ip));

describe('ipRangeTable', () => {
  it.each([
    [['10.0.0.0/8'], '10.255.255.255', true],
    [['10.0.0.0/8'], '11.0.0.0', false],
    [['10.0.0.0/8'], '9.255.255.255', false],
    [['192.0.2.7'], '192.0.2.7', true],
    [['192.0.2.7'], '192.0.2.8', false],
    [['0.0.0.0/0'], '203.0.113.9', true],
    [['0.0.0.0/0'], '2001:db8::1', false],
    [['255.255.255.255/32'], '255.255.255.255', true],
    [['192.0.2.0/25', '192.0.2.128/25'], '192.0.2.200', true],
    [['192.0.2.0/24', '192.0.2.64/26'], '192.0.2.70', true],
    [['192.0.2.0/26', '192.0.2.192/26'], '192.0.2.100', false],
    [['2001:db8::/32'], '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', true],
    [['2001:db8::/32'], '2001:db9::', false],
    [['2001:db8::1'], '2001:db8::1', true],
    [['2001:db8::1'], '2001:db8::2', false],
    [['::/0'], 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
    [['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128'], 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
    [['2001:db8:0:1::/64'], '2001:db8:0:1:8000::5', true],
    [['2001:db8:0:1::/63'], '2001:db8:0:2::', false],
    [['2001:db8:0:1::/63'], '2001:db8::', true],
    [['::ffff:10.0.0.0/104'], '10.1.2.3', true], // IPv4-mapped block folds to 10.0.0.0/8
    [['10.0.0.0/8'], '::ffff:10.1.2.3', true], // mapped source folds too
    [['not-an-ip', '10.0.0.0/8'], '10.0.0.1', true],
    [['not-an-ip'], '10.0.0.1', false], // only bad entries: nothing matches (fail closed)
  ])('%j contains %s: %s', (entries, ip, want) => {
    expect(allowed(entries, ip)).toBe(want);
  });

  it('an empty list allows any source, even an unknown one; a non-empty list never allows an unknown one', () => {
    expect(table([]).contains(undefined)).toBe(true);
    expect(table(['10.0.0.0/8']).contains(undefined)).toBe(false);
  });

  it('merges overlapping and adjacent blocks into disjoint ranges', () => {
    expect(table(['10.0.0.0/25', '10.0.0.128/25', '10.0.1.0/24', '10.0.0.5']).ranges).toBe(1);
    expect(table(['10.0.0.0/24', '10.0.2.0/24']).ranges).toBe(2);
    expect(table(['2001:db8::/33', '2001:db8:8000::/33', '::/0']).ranges).toBe(1);
    expect(table(['255.255.255.0/24', '255.255.255.255']).ranges).toBe(1);
  });

  // The linear scan of client-ip.ts (ipaddr.js's own match) is the reference.
  it('agrees with the linear CIDR scan on 5 000 random lists and addresses (IPv4 and IPv6)', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const v4 = () => [rand(4) * 64, rand(256), rand(256), rand(256)].join('.');
    const v6 = () => `2001:db8:${rand(4).toString(16)}:${rand(65536).toString(16)}::${rand(65536).toString(16)}`;
    const outcomes = { true: 0, false: 0 };
    for (let i = 0; i < 5_000; i++) {
      const six = rand(2) === 1;
      const entries = Array.from({ length: 1 + rand(20) }, () =>
        six ? `${v6()}/${32 + rand(97)}` : `${v4()}/${rand(33)}`,
      );
      const list = compileCidrs(entries);
      const t = ipRangeTable(list);
      for (let j = 0; j < 5; j++) {
        const ip = parseIp(six ? v6() : v4());
        const want = inCidrs(ip, list);
        expect(t.contains(ip), `${entries.join(',')} ∋ ${ip?.toString()}`).toBe(want);
        outcomes[`${want}`]++;
      }
    }
    // Both answers are exercised often, so the comparison means something.
    expect(Math.min(outcomes.true, outcomes.false)).toBeGreaterThan(1_000);
  });
});
