import ipaddr from 'ipaddr.js';

// A key's source allowlist within its Team's (docs/design.md §2, "Team lists"): the addresses both
// allow. CIDR blocks are either nested or disjoint, so the intersection of two lists is exactly the
// blocks of each list that lie inside the other list's union (a block only partly inside is covered by
// the other list's smaller blocks inside it, which are kept). Each list is merged into sorted disjoint
// ranges once and every block is one binary search: O(n log n) for lists of thousands of CI ranges.
// An IPv4-mapped IPv6 block (::ffff:10.0.0.0/104) counts as the IPv4 block it denotes, as at the gateway.
// Every reconcile of every key of a team plans again, with the same lists: parsed lists are kept by content
// (a few, least recently used first out), so a list of thousands is parsed once per change, not per key.

interface Block {
  text: string;
  v6: boolean;
  start: bigint;
  end: bigint;
}

type Ranges = { v4: [bigint, bigint][]; v6: [bigint, bigint][] };

function toBigInt(bytes: readonly number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** Host bits cleared / set, as the gateway's range table reads a block. Undefined for a bad entry. */
function parseBlock(text: string): Block | undefined {
  try {
    let [addr, bits] = text.includes('/') ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), -1];
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && (bits < 0 || bits >= 96)) {
      addr = (addr as ipaddr.IPv6).toIPv4Address();
      if (bits >= 0) bits -= 96;
    }
    const width = addr.kind() === 'ipv4' ? 32 : 128;
    if (bits < 0) bits = width;
    const host = (1n << BigInt(width - bits)) - 1n;
    const start = toBigInt(addr.toByteArray()) & ~host;
    return { text, v6: width === 128, start, end: start | host };
  } catch {
    return undefined;
  }
}

function merge(blocks: readonly Block[]): [bigint, bigint][] {
  const sorted = [...blocks].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const { start, end } of sorted) {
    const last = out.at(-1);
    if (last && start <= last[1] + 1n) {
      if (end > last[1]) last[1] = end;
    } else {
      out.push([start, end]);
    }
  }
  return out;
}

function rangesOf(blocks: readonly Block[]): Ranges {
  return { v4: merge(blocks.filter((b) => !b.v6)), v6: merge(blocks.filter((b) => b.v6)) };
}

interface CompiledList {
  blocks: (Block | undefined)[];
  ranges: Ranges;
}

/** Lists kept parsed: a team's list and a shared CI list or two; a Map iterates oldest first. */
const COMPILED_MAX = 8;
const compiled = new Map<string, CompiledList>();

function compile(list: readonly string[]): CompiledList {
  const id = list.join('\n');
  let c = compiled.get(id);
  if (c) {
    compiled.delete(id);
  } else {
    const blocks = list.map(parseBlock);
    c = { blocks, ranges: rangesOf(blocks.filter((b) => b !== undefined)) };
    if (compiled.size >= COMPILED_MAX) compiled.delete(compiled.keys().next().value!);
  }
  compiled.set(id, c);
  return c;
}

/** Whether the whole block lies in one merged range (the last one starting at or before it). */
function covered(block: Block, ranges: Ranges): boolean {
  const rs = block.v6 ? ranges.v6 : ranges.v4;
  let lo = 0;
  let hi = rs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (rs[mid]![0] <= block.start) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found >= 0 && block.end <= rs[found]![1];
}

export interface SourceIntersection {
  /** The addresses both lists allow, as blocks written in either list (sorted, deduplicated). */
  allowed: string[];
  /** The key's blocks that are not wholly inside the team's list (dropped or narrowed). */
  narrowed: string[];
}

/**
 * key ∩ team for two NON-EMPTY source lists (an empty list means "any source" and is the caller's case).
 * An entry that does not parse allows nothing (it can only narrow); the spec and list parsers refuse
 * such entries before they get here.
 */
export function intersectSources(key: readonly string[], team: readonly string[]): SourceIntersection {
  const k = compile(key);
  const t = compile(team);
  const allowed = new Set<string>();
  const narrowed = new Set<string>();
  k.blocks.forEach((b, i) => {
    if (b && covered(b, t.ranges)) allowed.add(b.text);
    else narrowed.add(key[i]!);
  });
  for (const b of t.blocks) if (b && covered(b, k.ranges)) allowed.add(b.text);
  return { allowed: [...allowed].sort(), narrowed: [...narrowed].sort() };
}
