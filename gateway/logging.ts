import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';

// The gateway's log lines never carry a key (docs/design.md §4), at any level: the auth headers are
// redacted wherever pino may see them, a request URL is logged without its query string and with any
// secret-looking path segment replaced (a client may paste its key there), and errors lose the raw
// bytes node attaches to a parse error (`rawPacket`, which holds the request headers).

/** Auth headers in every shape pino may see them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
];

// a nemokeys key holds a 38-character base62 run; ids of files, batches, ... are shorter or hex
const SECRET_LOOKING = /nr_|[A-Za-z0-9]{30,}/;

/** The URL as it may be logged. */
export function loggableUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const segments = path.split('/').map((seg) => {
    let decoded = seg;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      // keep the raw form
    }
    return SECRET_LOOKING.test(decoded) || SECRET_LOOKING.test(seg) ? '[redacted]' : seg;
  });
  return segments.join('/') + (q < 0 ? '' : '?[redacted]');
}

interface LoggedRequest {
  method?: string;
  url?: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

function serializeRequest(req: LoggedRequest) {
  return { method: req.method, url: loggableUrl(req.url), remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

function serializeError(err: Error) {
  const out = pino.stdSerializers.err(err) as Record<string, unknown>;
  delete out.rawPacket;
  return out;
}

export function gatewayLogger(logger: FastifyBaseLogger): FastifyBaseLogger {
  return logger.child(
    { component: 'gateway' },
    { redact: REDACTED_PATHS, serializers: { req: serializeRequest, err: serializeError } },
  );
}
