// The keys page is a local server that acts with the user's Kubernetes credentials, so any web page
// the user visits must not be able to drive it (docs/design.md §11). Pure decisions, table-tested:
// - Host must be the address we printed (DNS rebinding: evil.example resolving to 127.0.0.1);
// - Origin, when the browser sends one, must be ours (CSRF from another site or port);
// - every request but the token exchange carries the per-run session cookie;
// - state changes only with POST (never GET) and a JSON body.
import { timingSafeEqual } from 'node:crypto';

/**
 * Cookies are per host, not per port: two pages on 127.0.0.1 (two kubeconfigs, two users) must not
 * overwrite each other's session, so the name carries the port.
 */
export const sessionCookieName = (port: number): string => `nemokeys_ui_${port}`;

export type Verdict = { ok: true } | { ok: false; status: 400 | 401 | 403 | 405 | 415; reason: string };

export interface RequestFacts {
  method: string;
  path: string;
  host: string | undefined;
  origin: string | undefined;
  /** Sec-Fetch-Site, sent by every current browser. */
  fetchSite: string | undefined;
  contentType: string | undefined;
  cookie: string | undefined;
}

/** host:port values the page is served under: the listen address, plus localhost for loopback. */
export function allowedHosts(listenHost: string, port: number): Set<string> {
  const hosts = new Set([`${bracket(listenHost)}:${port}`]);
  if (isLoopback(listenHost)) for (const h of ['127.0.0.1', 'localhost', '[::1]']) hosts.add(`${h}:${port}`);
  return hosts;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const bracket = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/** Constant-time comparison of two tokens (a mismatch in length is a mismatch). */
export function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * Whether a request may proceed. `exchange` is true for the token-exchange path (GET /?token=…),
 * which is the only request allowed without the session cookie.
 */
export function checkRequest(
  req: RequestFacts,
  hosts: Set<string>,
  session: { name: string; value: string },
  exchange: boolean,
): Verdict {
  if (!req.host || !hosts.has(req.host.toLowerCase())) {
    return { ok: false, status: 403, reason: `Host ${req.host ?? '<none>'} is not this page's address` };
  }
  if (req.origin !== undefined && !hosts.has(originHost(req.origin))) {
    return { ok: false, status: 403, reason: `requests from ${req.origin} are refused (cross-origin)` };
  }
  if (req.fetchSite !== undefined && !['same-origin', 'none'].includes(req.fetchSite)) {
    return {
      ok: false,
      status: 403,
      reason: `requests from another site (Sec-Fetch-Site: ${req.fetchSite}) are refused`,
    };
  }
  const safe = SAFE_METHODS.has(req.method);
  if (!safe && req.method !== 'POST') return { ok: false, status: 405, reason: `${req.method} is not supported` };
  if (!safe && req.origin === undefined) {
    // Browsers send Origin on every POST; a POST without one is not from our page.
    return { ok: false, status: 403, reason: "a POST must carry the page's Origin" };
  }
  if (!safe && !/^application\/json\b/i.test(req.contentType ?? '')) {
    return { ok: false, status: 415, reason: 'a POST must have Content-Type application/json' };
  }
  if (exchange && safe) return { ok: true };
  if (!sameToken(cookieValue(req.cookie, session.name), session.value)) {
    return { ok: false, status: 401, reason: 'no valid session: open the URL that "nemokeys ui" printed' };
  }
  return { ok: true };
}

function originHost(origin: string): string {
  try {
    const u = new URL(origin);
    return u.protocol === 'http:' ? u.host.toLowerCase() : '';
  } catch {
    return '';
  }
}
