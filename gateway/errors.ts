// Every way the gateway can refuse a request, mapped once to an HTTP status and the OpenAI error shape
// `{"error":{"message","type","code"}}`, so SDKs raise their usual typed errors (AuthenticationError,
// PermissionDeniedError, RateLimitError, ...). Messages are fixed strings: they never echo the key or
// any other request input, so nothing a client sends can leak through an error.

export const DENIAL_REASONS = [
  'not_synced',
  'bad_request',
  'missing_key',
  'malformed_key',
  'unknown_key',
  'expired',
  'revoked',
  'suspended',
  'ip_not_allowed',
  'endpoint_not_allowed',
  'model_not_allowed',
  'body_too_large',
  'rate_limited',
  'budget_exhausted',
  'limiter_unavailable',
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

export interface ErrorSpec {
  status: number;
  type: string;
  code: string;
  message: string;
}

// unknown_key and a wrong secret share one answer on purpose: a caller must not be able to tell
// whether a key id exists without holding its secret.
const SPECS: Record<DenialReason, ErrorSpec> = {
  not_synced: {
    status: 503,
    type: 'api_error',
    code: 'gateway_not_ready',
    message: 'The gateway has not loaded its key records yet; retry shortly.',
  },
  bad_request: {
    status: 400,
    type: 'invalid_request_error',
    code: 'invalid_request',
    message: 'The request could not be parsed.',
  },
  missing_key: {
    status: 401,
    type: 'authentication_error',
    code: 'missing_api_key',
    message: 'No API key provided. Send it as "Authorization: Bearer <key>", "x-api-key" or "api-key".',
  },
  malformed_key: {
    status: 401,
    type: 'authentication_error',
    code: 'invalid_api_key',
    message: 'The API key is not a valid nemokeys key (wrong format or checksum: truncated or mistyped?).',
  },
  unknown_key: {
    status: 401,
    type: 'authentication_error',
    code: 'invalid_api_key',
    message: 'Incorrect API key provided.',
  },
  expired: {
    status: 401,
    type: 'authentication_error',
    code: 'expired_api_key',
    message: 'This API key has expired. Use its replacement or ask the key owner to create one.',
  },
  revoked: {
    status: 401,
    type: 'authentication_error',
    code: 'revoked_api_key',
    message: 'This API key has been revoked. Use its replacement or ask the key owner for a new key.',
  },
  suspended: {
    status: 401,
    type: 'authentication_error',
    code: 'suspended_api_key',
    message: 'This API key is suspended.',
  },
  ip_not_allowed: {
    status: 401,
    type: 'authentication_error',
    code: 'ip_not_allowed',
    message: 'Requests from this source address are not allowed for this API key.',
  },
  endpoint_not_allowed: {
    status: 403,
    type: 'permission_error',
    code: 'endpoint_not_allowed',
    message: 'This API key is not allowed to call this endpoint.',
  },
  model_not_allowed: {
    status: 403,
    type: 'permission_error',
    code: 'model_not_allowed',
    message: 'This API key is not allowed to use the requested model.',
  },
  body_too_large: {
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
    message: 'The request body is too large.',
  },
  rate_limited: {
    status: 429,
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    message: 'Rate limit reached for this API key; retry after the time given in Retry-After.',
  },
  budget_exhausted: {
    status: 429,
    type: 'insufficient_quota',
    code: 'insufficient_quota',
    message: 'This API key has used its credit budget for the current period.',
  },
  limiter_unavailable: {
    status: 503,
    type: 'api_error',
    code: 'limiter_unavailable',
    message: 'Rate limits and budgets cannot be checked right now; retry shortly.',
  },
};

export function errorSpec(reason: DenialReason): ErrorSpec {
  return SPECS[reason];
}

/** The OpenAI error body; `detail` (a fixed, input-free string) may refine the message. */
export function errorBody(reason: DenialReason, detail?: string): string {
  const spec = SPECS[reason];
  const message = detail ? `${spec.message} ${detail}` : spec.message;
  return JSON.stringify({ error: { message, type: spec.type, param: null, code: spec.code } });
}

/**
 * Whether an SDK should retry. The openai SDK honours `x-should-retry`; retrying an auth, scope or
 * budget refusal only burns the client's time, while 429 rate limits and 503s clear on their own.
 */
export function shouldRetry(reason: DenialReason): boolean {
  return reason === 'rate_limited' || reason === 'not_synced' || reason === 'limiter_unavailable';
}

/** 502 when the upstream router cannot be reached: not a denial, the request was allowed. */
export const UPSTREAM_ERROR_BODY = JSON.stringify({
  error: {
    message: 'The upstream router could not be reached.',
    type: 'api_error',
    param: null,
    code: 'upstream_unavailable',
  },
});

/** Anything unexpected: a fixed message, never the underlying error (it could quote request input). */
export const INTERNAL_ERROR_BODY = JSON.stringify({
  error: {
    message: 'The gateway failed to handle the request.',
    type: 'api_error',
    param: null,
    code: 'internal_error',
  },
});

export const NOT_FOUND_BODY = JSON.stringify({
  error: {
    message: 'Unsupported method for this gateway.',
    type: 'invalid_request_error',
    param: null,
    code: 'unsupported_method',
  },
});
