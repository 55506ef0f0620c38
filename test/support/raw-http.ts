import { connect } from 'node:net';

// Raw HTTP/1.1 on a socket, for hostile-input tests: write bytes exactly as given (in pieces, with
// pauses), read everything until the server closes, and split the answer into responses.

export type Piece = string | Buffer | { pauseMs: number } | { closeAfterMs: number };

export function rawExchange(port: number, pieces: Piece[], opts: { timeoutMs?: number } = {}): Promise<Buffer> {
  return rawSession(port, pieces, opts).then((s) => s.bytes);
}

/** Like rawExchange, and says whether the server closed the connection (FIN) before our timeout. */
export function rawSession(
  port: number,
  pieces: Piece[],
  opts: { timeoutMs?: number } = {},
): Promise<{ bytes: Buffer; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => sock.destroy(), opts.timeoutMs ?? 5_000);
    sock.on('end', () => {
      closedByServer = true;
      sock.end();
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), closedByServer });
    });
    void (async () => {
      for (const p of pieces) {
        if (sock.destroyed) return;
        if (typeof p === 'string' || Buffer.isBuffer(p)) sock.write(p);
        else if ('pauseMs' in p) await new Promise((r) => setTimeout(r, p.pauseMs));
        else {
          await new Promise((r) => setTimeout(r, p.closeAfterMs));
          sock.destroy();
          return;
        }
      }
    })();
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits pipelined responses; `methods` says which answered a HEAD (no body). */
export function parseResponses(bytes: Buffer, methods: readonly string[] = []): RawResponse[] {
  const text = bytes.toString('latin1');
  const out: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine, ...lines] = text.slice(at, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    at = end + 4;
    let body = '';
    const informational = status >= 100 && status < 200;
    if (informational || methods[out.length] === 'HEAD' || status === 204 || status === 304) {
      // no body
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = text.slice(at, at + n);
      at += n;
    } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      for (;;) {
        const le = text.indexOf('\r\n', at);
        if (le < 0) return out;
        const size = parseInt(text.slice(at, le), 16);
        at = le + 2;
        if (size === 0) {
          at = text.indexOf('\r\n', at) + 2;
          break;
        }
        body += text.slice(at, at + size);
        at += size + 2;
      }
    } else {
      body = text.slice(at);
      at = text.length;
    }
    if (informational) continue;
    out.push({ status, headers, body });
  }
  return out;
}
