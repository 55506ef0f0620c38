// The key check with an IP allowlist of 1, 100 and 5 000 CIDR blocks (IPv4 and IPv6):
//   npx node bench/gateway-allowlist.ts        # env: ROUNDS=7 CHECKS=50000
// precheck() as the gateway runs it (parse key, lookup, SHA-256, expiry, allowlist, endpoint), in CPU µs
// per check, for a source inside the list (a block in the middle) and one outside. Sizes run
// interleaved, round after round, so drifting load on a shared machine hits them alike; medians are
// reported with each size's ratio to the 1-block list. The linear scan the range table replaced
// (client-ip.ts inCidrs) is timed on the same lists for contrast.
import { loadavg } from 'node:os';
import { precheck } from '../gateway/checks/precheck.ts';
import { compileCidrs, inCidrs, parseIp } from '../gateway/client-ip.ts';
import { ipRangeTable } from '../gateway/ip-range-table.ts';
import { RecordStore } from '../gateway/records/store.ts';
import { makeKeyAndRecord } from '../gateway/sources/testing.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const CHECKS = Number(process.env.CHECKS ?? 50_000);
const SIZES = [1, 100, 5_000];

// Disjoint, non-adjacent blocks (every other /24 of 10.0.0.0/8, every other /48 of 2001:db8::/32, so
// the table cannot merge them into fewer ranges); the allowed source sits in the middle block.
const v4Addr = (i: number, host: number) => `10.${((2 * i) >> 8) & 255}.${(2 * i) & 255}.${host}`;
const v6Addr = (i: number, host: number) => `2001:db8:${(2 * i).toString(16)}::${host}`;
const families = {
  ipv4: { block: (i: number) => `${v4Addr(i, 0)}/24`, inside: (n: number) => v4Addr(n >> 1, 7), outside: '192.0.2.1' },
  ipv6: {
    block: (i: number) => `${v6Addr(i, 0)}/48`,
    inside: (n: number) => v6Addr(n >> 1, 7),
    outside: '2001:db9::1',
  },
};

const cpuMicros = (n: number, f: () => unknown): number => {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Case {
  name: string;
  check: () => unknown;
  linear: () => unknown;
  samples: number[];
  linearSamples: number[];
}
const cases: Case[] = [];
for (const [family, f] of Object.entries(families)) {
  for (const n of SIZES) {
    const allowlist = Array.from({ length: n }, (_, i) => f.block(i));
    const { key, record } = makeKeyAndRecord({ scopes: { endpoints: ['/chat/completions'], ipAllowlist: allowlist } });
    const store = new RecordStore();
    store.replaceAll([record]);
    const list = compileCidrs(allowlist);
    if (ipRangeTable(list).ranges !== n) throw new Error(`${family}: ${n} blocks should stay ${n} ranges`);
    for (const [where, peer] of [
      ['inside', f.inside(n)],
      ['outside', f.outside],
    ] as const) {
      const input = {
        synced: true,
        lookup: (id: string) => store.get(id),
        headers: { authorization: `Bearer ${key}` },
        method: 'POST',
        url: '/v1/chat/completions',
        peer,
        trustedProxies: compileCidrs([]),
        nowMs: Date.now(),
      };
      const want = where === 'inside' ? 'ok' : 'ip_not_allowed';
      const got = precheck(input);
      if ((got.ok ? 'ok' : got.reason) !== want)
        throw new Error(`${family} ${n} ${where}: want ${want}, got ${JSON.stringify(got)}`);
      const ip = parseIp(peer);
      cases.push({
        name: `${family} ${String(n).padStart(5)} blocks, source ${where}`,
        check: () => precheck(input),
        linear: () => inCidrs(ip, list),
        samples: [],
        linearSamples: [],
      });
    }
  }
}

process.stdout.write(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${ROUNDS} rounds × ${CHECKS} checks per case\n`,
);
for (const c of cases) cpuMicros(CHECKS / 5, c.check); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const c of cases) {
    c.samples.push(cpuMicros(CHECKS, c.check));
    c.linearSamples.push(cpuMicros(Math.max(100, CHECKS / 10), c.linear));
  }
}
const base = new Map<string, number>();
const rows = cases.map((c) => {
  const group = c.name.replace(/\s+\d+ blocks/, '');
  const m = median(c.samples);
  if (!base.has(group)) base.set(group, m);
  return {
    case: c.name,
    precheckUs: +m.toFixed(2),
    vsOneBlock: +(m / base.get(group)!).toFixed(2),
    linearScanUs: +median(c.linearSamples).toFixed(2),
  };
});
for (const r of rows)
  process.stdout.write(
    `${r.case}: precheck ${r.precheckUs.toFixed(2)} µs (×${r.vsOneBlock.toFixed(2)} of 1 block); the old linear scan alone ${r.linearScanUs.toFixed(2)} µs\n`,
  );
process.stdout.write(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n${JSON.stringify({ bench: 'gateway-allowlist', rows })}\n`,
);
