import type { CidrList, Ip } from './client-ip.ts';

// An IP allowlist as a sorted table of disjoint address ranges, so "is this source allowed?" is one
// binary search: the same cost for 1, 100 or 5 000 CIDR blocks (a CI provider publishes thousands).
// Addresses are compared as big-endian 16-bit words: 2 for IPv4, 8 for IPv6 (IPv4-mapped IPv6 sources
// and blocks are already folded to IPv4 by client-ip.ts, so one entry covers both stacks).

export interface IpRangeTable {
  /** The configured list was empty: every source matches. */
  readonly any: boolean;
  /** Number of disjoint ranges after merging overlapping and adjacent blocks (IPv4 + IPv6). */
  readonly ranges: number;
  contains(ip: Ip | undefined): boolean;
}

/** Disjoint, sorted [start, end] ranges of one address family; `width` words per address. */
class Ranges {
  readonly count: number;
  private readonly starts: Uint16Array;
  private readonly ends: Uint16Array;
  private readonly width: number;

  constructor(width: number, blocks: readonly (readonly [number[], number])[]) {
    this.width = width;
    const ranges = blocks
      .map(([words, bits]) => blockRange(words, bits))
      .sort((a, b) => compare(a[0], 0, b[0], 0, width));
    const merged: [number[], number[]][] = [];
    for (const [start, end] of ranges) {
      const last = merged.at(-1);
      if (last && !isAfterSuccessor(start, last[1])) {
        if (compare(end, 0, last[1], 0, width) > 0) last[1] = end;
      } else {
        merged.push([start, end]);
      }
    }
    this.count = merged.length;
    this.starts = new Uint16Array(merged.length * width);
    this.ends = new Uint16Array(merged.length * width);
    merged.forEach(([s, e], i) => {
      this.starts.set(s, i * width);
      this.ends.set(e, i * width);
    });
  }

  contains(words: ArrayLike<number>): boolean {
    // The last range whose start is ≤ the address, if any, is the only one that can hold it.
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(this.starts, mid * this.width, words, 0, this.width) <= 0) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found >= 0 && compare(words, 0, this.ends, found * this.width, this.width) <= 0;
  }
}

function compare(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, width: number): number {
  for (let i = 0; i < width; i++) {
    const d = a[ai + i]! - b[bi + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** First and last address of a block: host bits cleared / set. */
function blockRange(words: readonly number[], bits: number): [number[], number[]] {
  const start: number[] = [];
  const end: number[] = [];
  words.forEach((w, i) => {
    const keep = Math.max(0, Math.min(16, bits - 16 * i));
    const hostMask = keep === 16 ? 0 : 0xffff >>> keep;
    start.push(w & ~hostMask & 0xffff);
    end.push((w | hostMask) & 0xffff);
  });
  return [start, end];
}

/** True when `start` lies beyond end + 1 (a gap between the ranges, so they cannot be merged). */
function isAfterSuccessor(start: readonly number[], end: readonly number[]): boolean {
  const next = [...end];
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] === 0xffff) {
      next[i] = 0;
      continue;
    }
    next[i]!++;
    return compare(start, 0, next, 0, next.length) > 0;
  }
  return false; // end is the family's last address: nothing can come after it
}

const v4Words = (octets: readonly number[]): number[] => [
  (octets[0]! << 8) | octets[1]!,
  (octets[2]! << 8) | octets[3]!,
];

/** Compiles a parsed CIDR list (client-ip.ts compileCidrs) into range tables for both families. */
export function ipRangeTable(list: CidrList): IpRangeTable {
  const v4 = new Ranges(
    2,
    list.v4.map(([addr, bits]) => [v4Words(addr.octets), bits] as const),
  );
  const v6 = new Ranges(
    8,
    list.v6.map(([addr, bits]) => [addr.parts, bits] as const),
  );
  return {
    any: list.any,
    ranges: v4.count + v6.count,
    contains(ip) {
      if (list.any) return true;
      if (ip === undefined) return false;
      return ip.kind() === 'ipv4'
        ? v4.contains(v4Words((ip as { octets: number[] }).octets))
        : v6.contains((ip as { parts: number[] }).parts);
    },
  };
}
