import ipaddr from 'ipaddr.js';

// Who is calling: strict address parsing, CIDR lists, and the X-Forwarded-For walk. An address that
// cannot be parsed is "unknown", never "anything": callers deny unknown sources whenever an allowlist
// is set.
export type Ip = ipaddr.IPv4 | ipaddr.IPv6;

export interface CidrList {
  /** The configured list was empty: every source matches. */
  readonly any: boolean;
  readonly v4: readonly (readonly [ipaddr.IPv4, number])[];
  readonly v6: readonly (readonly [ipaddr.IPv6, number])[];
}

const PORT = /^[0-9]{1,5}$/;
const ZONE = /^[A-Za-z0-9_.-]{1,32}$/;
const MAX_ADDRESS_LENGTH = 100;

/**
 * Parses one address as it appears in a socket peer or an X-Forwarded-For hop: IPv4 (strict dotted
 * quad), IPv6, `[v6]`, `[v6]:port`, `v4:port`, and a `%zone` suffix (dropped: zones are host-local).
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`) folds to IPv4 so one allowlist entry covers both stacks.
 */
export function parseIp(text: string | undefined): Ip | undefined {
  if (text === undefined) return undefined;
  let s = text.trim();
  if (s.length === 0 || s.length > MAX_ADDRESS_LENGTH) return undefined;
  if (s.charCodeAt(0) === 0x5b /* [ */) {
    const end = s.indexOf(']');
    if (end < 0) return undefined;
    const rest = s.slice(end + 1);
    if (rest !== '' && !(rest.charCodeAt(0) === 0x3a && PORT.test(rest.slice(1)))) return undefined;
    s = s.slice(1, end);
    if (!s.includes(':')) return undefined; // brackets are for IPv6 only
  } else {
    const colon = s.indexOf(':');
    if (colon >= 0 && colon === s.lastIndexOf(':') && s.includes('.')) {
      // `v4:port` (one colon, dotted): IPv6 always has at least two colons
      if (!PORT.test(s.slice(colon + 1))) return undefined;
      s = s.slice(0, colon);
    }
  }
  const pct = s.indexOf('%');
  if (pct >= 0) {
    if (!ZONE.test(s.slice(pct + 1))) return undefined;
    s = s.slice(0, pct);
  }
  if (s.includes(':')) {
    // fast path for what dual-stack sockets report for every IPv4 client (ipaddr's IPv6 parser is slow)
    if (s.length > 7 && s.slice(0, 7).toLowerCase() === '::ffff:' && s.includes('.')) {
      const v4 = s.slice(7);
      return ipaddr.IPv4.isValidFourPartDecimal(v4) ? ipaddr.IPv4.parse(v4) : undefined;
    }
    if (!ipaddr.IPv6.isValid(s)) return undefined;
    const v6 = ipaddr.IPv6.parse(s);
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
  }
  return ipaddr.IPv4.isValidFourPartDecimal(s) ? ipaddr.IPv4.parse(s) : undefined;
}

/**
 * Compiles CIDR blocks / bare addresses. An IPv4-mapped IPv6 block (::ffff:10.0.0.0/104) becomes the
 * IPv4 block it denotes. `strict` throws on a bad entry (configuration); otherwise bad entries are
 * dropped, which can only narrow the list: a non-empty list of only bad entries matches nothing.
 */
export function compileCidrs(entries: readonly string[], opts: { strict?: boolean } = {}): CidrList {
  const v4: [ipaddr.IPv4, number][] = [];
  const v6: [ipaddr.IPv6, number][] = [];
  for (const entry of entries) {
    const parsed = parseCidr(entry);
    if (!parsed) {
      if (opts.strict) throw new Error(`not a CIDR block or IP address: ${JSON.stringify(entry)}`);
      continue;
    }
    const [addr, bits] = parsed;
    if (addr.kind() === 'ipv4') v4.push([addr as ipaddr.IPv4, bits]);
    else v6.push([addr as ipaddr.IPv6, bits]);
  }
  return { any: entries.length === 0, v4, v6 };
}

function parseCidr(entry: string): [Ip, number] | undefined {
  const slash = entry.indexOf('/');
  const addrText = slash < 0 ? entry : entry.slice(0, slash);
  if (addrText.includes('%') || addrText.includes('[')) return undefined;
  const bitsText = slash < 0 ? undefined : entry.slice(slash + 1);
  if (bitsText !== undefined && !/^[0-9]{1,3}$/.test(bitsText)) return undefined;
  if (addrText.includes(':')) {
    if (!ipaddr.IPv6.isValid(addrText)) return undefined;
    const addr = ipaddr.IPv6.parse(addrText);
    const bits = bitsText === undefined ? 128 : Number(bitsText);
    if (bits > 128) return undefined;
    if (addr.isIPv4MappedAddress() && bits >= 96) return [addr.toIPv4Address(), bits - 96];
    return [addr, bits];
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(addrText)) return undefined;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (bits > 32) return undefined;
  return [ipaddr.IPv4.parse(addrText), bits];
}

export function inCidrs(ip: Ip | undefined, list: CidrList): boolean {
  if (list.any) return true;
  if (ip === undefined) return false;
  if (ip.kind() === 'ipv4') {
    for (const [range, bits] of list.v4) if (ip.match(range, bits)) return true;
  } else {
    for (const [range, bits] of list.v6) if (ip.match(range, bits)) return true;
  }
  return false;
}

const MAX_FORWARDED_HOPS = 32;

// Socket peers repeat (keep-alive, a handful of clients in front of a sidecar) and come from the
// kernel, not the client, so caching their parse is safe; cleared when full to stay bounded.
const PEER_CACHE_MAX = 1024;
const peerCache = new Map<string, Ip | undefined>();
function parsePeer(peer: string | undefined): Ip | undefined {
  if (peer === undefined) return undefined;
  if (peerCache.has(peer)) return peerCache.get(peer);
  const ip = parseIp(peer);
  if (peerCache.size >= PEER_CACHE_MAX) peerCache.clear();
  peerCache.set(peer, ip);
  return ip;
}

/** Whether the socket peer is one of the configured trusted proxies (an empty list trusts none). */
export function peerTrusted(peer: string | undefined, trusted: CidrList): boolean {
  if (trusted.any) return false;
  const ip = parsePeer(peer);
  return ip !== undefined && inCidrs(ip, trusted);
}

/**
 * The client address: the socket peer, unless the peer is a trusted proxy; then X-Forwarded-For is
 * walked from the right (the hop our proxy appended) and the first untrusted address wins. Left-hand
 * entries are whatever the client typed, so they are only reached through a chain of trusted hops.
 * Garbage inside that trusted chain makes the client unknown (undefined).
 */
export function clientIp(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: CidrList,
): Ip | undefined {
  const peerIp = parsePeer(peer);
  // trusted.any comes from an empty trustedProxies list, which means "trust no proxy"
  if (peerIp === undefined || forwardedFor === undefined || trusted.any) return peerIp;
  if (!inCidrs(peerIp, trusted)) return peerIp;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  const hops = header.split(',');
  let current: Ip = peerIp;
  for (let i = hops.length - 1, seen = 0; i >= 0; i--, seen++) {
    if (seen >= MAX_FORWARDED_HOPS) return undefined;
    const hop = parseIp(hops[i]);
    if (hop === undefined) return undefined;
    if (!inCidrs(hop, trusted)) return hop;
    current = hop;
  }
  return current;
}
