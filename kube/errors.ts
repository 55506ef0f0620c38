// Failed API calls come as KubeApiError (kube/client.ts) or client-node 2.x's ApiException (CLI, keys
// page: code + parsed body + a multi-line message that embeds response headers), watch failures as Error
// with statusCode, and plain network errors. Controllers and logs need one short line and a status code;
// this is the only place that knows those shapes.

/** A response with an error status from the API server; `body` is its metav1.Status when it sent one. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly body: unknown;
  constructor(code: number, body: unknown, what: string) {
    super(`${what}: ${code}`);
    this.name = 'KubeApiError';
    this.code = code;
    this.body = body;
    this.message = `${what}: ${apiErrorMessage(this)}`;
  }
}

/** KubeApiError or client-node's ApiException: an HTTP status and the body the server sent. */
export function isApiError(err: unknown): err is Error & { code: number; body: unknown } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'body' in err;
}

/** HTTP status of a failed API call or watch, or undefined for network / programming errors. */
export function statusCodeOf(err: unknown): number | undefined {
  if (isApiError(err)) return err.code;
  if (err && typeof err === 'object') {
    const e = err as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    // A watch ERROR event carries a metav1.Status whose `code` is the HTTP status.
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

export const isNotFound = (err: unknown): boolean => statusCodeOf(err) === 404;
export const isConflict = (err: unknown): boolean => statusCodeOf(err) === 409;
export const isGone = (err: unknown): boolean => statusCodeOf(err) === 410;

interface StatusBody {
  message?: unknown;
  reason?: unknown;
}

function statusBody(body: unknown): StatusBody | undefined {
  if (body && typeof body === 'object') return body as StatusBody;
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      return parsed && typeof parsed === 'object' ? (parsed as StatusBody) : { message: body };
    } catch {
      return { message: body };
    }
  }
  return undefined;
}

const MAX_MESSAGE = 300;

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE)}…` : flat;
}

/**
 * One human-readable line, e.g. `409 Conflict: Operation cannot be fulfilled on secrets "x": ...`.
 * Never includes request bodies or headers (ApiException.message embeds the response headers).
 */
export function apiErrorMessage(err: unknown): string {
  if (isApiError(err)) {
    const body = statusBody(err.body);
    const reason = typeof body?.reason === 'string' && body.reason ? body.reason : httpReason(err.code);
    const message = typeof body?.message === 'string' && body.message ? `: ${oneLine(body.message)}` : '';
    return `${err.code} ${reason}${message}`;
  }
  if (err instanceof Error) {
    const code = statusCodeOf(err);
    const cause = (err as { cause?: unknown }).cause;
    const causeText =
      cause instanceof Error && cause.message && !err.message.includes(cause.message)
        ? ` (${oneLine(cause.message)})`
        : '';
    return `${code ? `${code} ` : ''}${oneLine(err.message || err.name)}${causeText}`;
  }
  if (err && typeof err === 'object') {
    const body = statusBody(err);
    if (typeof body?.message === 'string') {
      const code = statusCodeOf(err);
      return `${code ? `${code} ` : ''}${oneLine(body.message)}`;
    }
  }
  return oneLine(String(err));
}

function httpReason(code: number): string {
  const reasons: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    410: 'Gone',
    415: 'UnsupportedMediaType',
    422: 'Invalid',
    429: 'TooManyRequests',
    500: 'InternalError',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return reasons[code] ?? 'Error';
}
