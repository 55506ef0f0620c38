import { describe, expect, it } from 'vitest';
import {
  allowedHosts,
  checkRequest,
  cookieValue,
  sameToken,
  sessionCookieName,
  type RequestFacts,
} from './security.ts';

const SESSION = { name: sessionCookieName(4000), value: 'sess-123' };
const HOSTS = allowedHosts('127.0.0.1', 4000);
const ok = (over: Partial<RequestFacts> = {}): RequestFacts => ({
  method: 'GET',
  path: '/api/session',
  host: '127.0.0.1:4000',
  origin: undefined,
  fetchSite: 'same-origin',
  contentType: undefined,
  cookie: `nemokeys_ui_4000=sess-123`,
  ...over,
});
const post = (over: Partial<RequestFacts> = {}) =>
  ok({ method: 'POST', origin: 'http://127.0.0.1:4000', contentType: 'application/json', ...over });

describe('checkRequest', () => {
  it.each<[string, RequestFacts, boolean, number | undefined]>([
    ['same-origin GET with the session', ok(), false, undefined],
    ['localhost alias of a loopback listener', ok({ host: 'localhost:4000' }), false, undefined],
    ['same-origin POST with JSON', post(), false, undefined],
    ['DNS rebinding: foreign Host', ok({ host: 'evil.example:4000' }), false, 403],
    ['missing Host', ok({ host: undefined }), false, 403],
    ['right host, wrong port', ok({ host: '127.0.0.1:4001' }), false, 403],
    [
      'cross-origin POST (another local port)',
      post({ origin: 'http://127.0.0.1:5000', fetchSite: 'same-site' }),
      false,
      403,
    ],
    ['cross-site POST', post({ origin: 'https://evil.example', fetchSite: 'cross-site' }), false, 403],
    ['opaque origin (sandboxed frame)', post({ origin: 'null' }), false, 403],
    ['POST without Origin', post({ origin: undefined }), false, 403],
    ['cross-site GET (a script reading our API)', ok({ fetchSite: 'cross-site' }), false, 403],
    [
      'form-encoded POST (an HTML form elsewhere)',
      post({ contentType: 'application/x-www-form-urlencoded' }),
      false,
      415,
    ],
    ['text/plain POST (a no-cors fetch)', post({ contentType: 'text/plain' }), false, 415],
    ['DELETE', post({ method: 'DELETE' }), false, 405],
    ['no cookie', ok({ cookie: undefined }), false, 401],
    ['wrong cookie', ok({ cookie: 'nemokeys_ui_4000=nope' }), false, 401],
    ['the session of another page on another port', ok({ cookie: 'nemokeys_ui_4001=sess-123' }), false, 401],
    [
      'token exchange without cookie (typed URL)',
      ok({ path: '/', cookie: undefined, fetchSite: 'none' }),
      true,
      undefined,
    ],
    [
      'token exchange does not excuse a foreign Host',
      ok({ path: '/', cookie: undefined, host: 'evil.example:4000' }),
      true,
      403,
    ],
    ['exchange flag never excuses a POST without cookie', post({ cookie: undefined }), true, 401],
  ])('%s', (_name, facts, exchange, status) => {
    const v = checkRequest(facts, HOSTS, SESSION, exchange);
    expect(v.ok ? undefined : v.status).toBe(status);
  });
});

describe('helpers', () => {
  it('allowedHosts: a non-loopback listener allows only its own address', () => {
    expect([...allowedHosts('10.0.0.5', 80)]).toEqual(['10.0.0.5:80']);
    expect(allowedHosts('::1', 9)).toContain('[::1]:9');
  });
  it('sameToken and cookieValue', () => {
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('abd', 'abc')).toBe(false);
    expect(sameToken('ab', 'abc')).toBe(false);
    expect(sameToken(undefined, 'abc')).toBe(false);
    expect(cookieValue('a=1; nemokeys_ui=x=y; b=2', 'nemokeys_ui')).toBe('x=y');
    expect(cookieValue(undefined, 'nemokeys_ui')).toBeUndefined();
  });
});
