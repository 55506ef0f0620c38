import { describe, expect, it } from 'vitest';
import { ApiException } from '@kubernetes/client-node';
import { apiErrorMessage, isConflict, isGone, isNotFound, statusCodeOf } from './errors.ts';

const apiErr = (code: number, body: unknown) =>
  new ApiException(code, 'Unknown API Status Code!', body, { 'content-type': 'application/json' });

describe('errors', () => {
  it.each([
    {
      name: 'ApiException with a Status body',
      err: apiErr(409, {
        kind: 'Status',
        reason: 'Conflict',
        message: 'Operation cannot be fulfilled on secrets "x": the object has been modified',
      }),
      code: 409,
      message: '409 Conflict: Operation cannot be fulfilled on secrets "x": the object has been modified',
    },
    {
      name: 'ApiException with a JSON string body',
      err: apiErr(404, '{"reason":"NotFound","message":"secrets \\"y\\" not found"}'),
      code: 404,
      message: '404 NotFound: secrets "y" not found',
    },
    { name: 'ApiException without body', err: apiErr(401, undefined), code: 401, message: '401 Unauthorized' },
    {
      name: 'watch HTTP error',
      err: Object.assign(new Error('Gone'), { statusCode: 410 }),
      code: 410,
      message: '410 Gone',
    },
    {
      name: 'watch ERROR event Status',
      err: { kind: 'Status', code: 410, message: 'too old resource version: 1 (2)' },
      code: 410,
      message: '410 too old resource version: 1 (2)',
    },
    {
      name: 'network error with cause',
      err: Object.assign(new TypeError('fetch failed'), { cause: new Error('connect ECONNREFUSED 127.0.0.1:6443') }),
      code: undefined,
      message: 'fetch failed (connect ECONNREFUSED 127.0.0.1:6443)',
    },
    {
      name: 'Node system error code is not an HTTP status',
      err: Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
      code: undefined,
      message: 'reset',
    },
    { name: 'string', err: 'weird', code: undefined, message: 'weird' },
  ])('$name', ({ err, code, message }) => {
    expect(statusCodeOf(err)).toBe(code);
    expect(apiErrorMessage(err)).toBe(message);
    expect(isNotFound(err)).toBe(code === 404);
    expect(isConflict(err)).toBe(code === 409);
    expect(isGone(err)).toBe(code === 410);
  });

  it('never includes response headers and stays on one bounded line', () => {
    const err = new ApiException(
      500,
      'x',
      { message: `line1\nline2 ${'y'.repeat(1000)}` },
      { 'set-cookie': 'secret-cookie' },
    );
    const msg = apiErrorMessage(err);
    expect(err.message).toContain('secret-cookie'); // what client-node would have logged
    expect(msg).not.toContain('secret-cookie');
    expect(msg).not.toContain('\n');
    expect(msg.length).toBeLessThan(340);
  });
});
