import type { IncomingHttpHeaders } from 'node:http';

// How a request body is framed towards the router, decided by the gateway alone (docs/design.md §4,
// "Framing"). node's HTTP server has already parsed the client's request strictly (it refuses
// Content-Length together with Transfer-Encoding, and any Transfer-Encoding that does not end in
// chunked), so the body it hands us has exactly one meaning. The router must read the same: every
// body we send upstream carries an explicit Content-Length or chunked encoding, whatever the method.
// node's client would otherwise write a GET/DELETE/OPTIONS body raw, and the router would parse it
// as a request of its own (request smuggling).

export type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

const NONE: Framing = Object.freeze({ kind: 'none' });
const CHUNKED: Framing = Object.freeze({ kind: 'chunked' });

/** The client's framing as node's server parsed it; undefined when it cannot be trusted. */
export function clientFraming(headers: IncomingHttpHeaders): Framing | undefined {
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined) return undefined; // node refuses this already; never guess which one wins
    return te.trim().toLowerCase() === 'chunked' ? CHUNKED : undefined;
  }
  if (cl === undefined) return NONE;
  if (!/^[0-9]{1,15}$/.test(cl)) return undefined;
  const length = Number(cl);
  return length === 0 ? NONE : { kind: 'length', length };
}

/** Sets the one framing header for `framing` (a bodyless request gets none). */
export function framingHeaders(framing: Framing, headers: Record<string, unknown>): void {
  delete headers['content-length'];
  delete headers['transfer-encoding'];
  if (framing.kind === 'length') headers['content-length'] = String(framing.length);
  else if (framing.kind === 'chunked') headers['transfer-encoding'] = 'chunked';
}
