import { describe, expect, it } from 'vitest';
import { generateKey } from '../../api/keyformat.ts';
import { compileCidrs } from '../client-ip.ts';
import { makeKeyAndRecord, type RecordOverrides } from '../sources/testing.ts';
import { extractKey, precheck, type PrecheckInput } from './precheck.ts';

const NOW = Date.parse('2026-06-01T00:00:00Z');

type Req = Partial<PrecheckInput> & { auth?: string; xff?: string };

function run(overrides: RecordOverrides, req: Req = {}) {
  const { key, record } = makeKeyAndRecord(overrides);
  const auth = req.auth ?? 'key';
  const headers: Record<string, string> =
    auth === 'none' ? {} : { authorization: `Bearer ${auth === 'key' ? key : auth}` };
  if (req.xff !== undefined) headers['x-forwarded-for'] = req.xff;
  const result = precheck({
    synced: req.synced ?? true,
    lookup: (id) => (id === record.keyId ? record : undefined),
    headers,
    method: req.method ?? 'POST',
    url: req.url ?? '/v1/chat/completions',
    peer: req.peer ?? '127.0.0.1',
    trustedProxies: req.trustedProxies ?? compileCidrs([]),
    nowMs: req.nowMs ?? NOW,
    ...(req.passThroughRoutes ? { passThroughRoutes: req.passThroughRoutes } : {}),
  });
  return { result, key, record };
}

const reason = (r: ReturnType<typeof run>) => (r.result.ok ? 'ok' : r.result.reason);

describe('precheck', () => {
  // a key that is wrong in every later way, so each row proves the earlier check wins
  const everythingWrong: RecordOverrides = {
    state: 'Revoked',
    expiresAt: '2020-01-01T00:00:00Z',
    scopes: { ipAllowlist: ['192.0.2.0/24'], endpoints: ['/embeddings'], models: ['gpt-4o-mini'] },
  };
  const otherKey = generateKey({ environment: 'dev' }).key;

  it.each<[string, RecordOverrides, Req, string]>([
    ['not synced beats everything', {}, { synced: false }, 'not_synced'],
    ['no key', everythingWrong, { auth: 'none' }, 'missing_key'],
    ['malformed key', everythingWrong, { auth: 'nr_dev_short' }, 'malformed_key'],
    [
      'bad checksum is malformed',
      everythingWrong,
      { auth: otherKey.slice(0, -1) + (otherKey.endsWith('0') ? '1' : '0') },
      'malformed_key',
    ],
    ['valid format, unknown id', everythingWrong, { auth: otherKey }, 'unknown_key'],
    ['revoked before expired', everythingWrong, {}, 'revoked'],
    ['suspended (Team missing)', { state: 'Suspended', suspendedReason: 'TeamNotFound' }, {}, 'suspended'],
    ['expired beats suspended', { state: 'Suspended', expiresAt: '2020-01-01T00:00:00Z' }, {}, 'expired'],
    ['expired at exactly now', { expiresAt: new Date(NOW).toISOString() }, {}, 'expired'],
    ['expired state', { state: 'Expired' }, {}, 'expired'],
    ['unparseable expiry fails closed', { expiresAt: 'garbage' }, {}, 'expired'],
    ['not yet expired', { expiresAt: new Date(NOW + 1000).toISOString() }, {}, 'ok'],
    ['ip before endpoint', { scopes: everythingWrong.scopes }, {}, 'ip_not_allowed'],
    [
      'ip allowed, endpoint not',
      { scopes: { ipAllowlist: ['127.0.0.0/8'], endpoints: ['/embeddings'] } },
      {},
      'endpoint_not_allowed',
    ],
    ['ip allowed via mapped peer', { scopes: { ipAllowlist: ['127.0.0.1'] } }, { peer: '::ffff:127.0.0.1' }, 'ok'],
    [
      'spoofed XFF from an untrusted peer is ignored',
      { scopes: { ipAllowlist: ['192.0.2.0/24'] } },
      { xff: '192.0.2.9', peer: '198.51.100.1' },
      'ip_not_allowed',
    ],
    ['bad path after auth', {}, { url: '/v1/../admin' }, 'bad_request'],
    [
      'multipart model route with restricted models: decided by the form field',
      { scopes: { models: ['whisper-1'] } },
      { url: '/v1/audio/transcriptions' },
      'ok',
    ],
    ['multipart model route with every model', {}, { url: '/v1/audio/transcriptions' }, 'ok'],
    [
      'model in the path, not allowed',
      { scopes: { models: ['gpt-4o-mini'] } },
      { url: '/openai/deployments/gpt-4o/chat/completions' },
      'model_not_allowed',
    ],
    [
      'model in the path, allowed',
      { scopes: { models: ['gpt-4o-mini'] } },
      { url: '/openai/deployments/gpt-4o-mini/chat/completions' },
      'ok',
    ],
    [
      'engine in the path, not allowed',
      { scopes: { models: ['gpt-4o-mini'] } },
      { url: '/v1/engines/gpt-4o/completions' },
      'model_not_allowed',
    ],
    [
      'batches with restricted models',
      { scopes: { models: ['gpt-4o-mini'] } },
      { url: '/v1/batches' },
      'model_not_allowed',
    ],
    ['batches with every model', {}, { url: '/v1/batches' }, 'ok'],
    [
      'unknown route with restricted models',
      { scopes: { models: ['gpt-4o-mini'] } },
      { url: '/v1/messages' },
      'endpoint_not_allowed',
    ],
    [
      'unknown route listed as pass-through',
      { scopes: { models: ['gpt-4o-mini'] } },
      { url: '/v1/messages', passThroughRoutes: ['/messages'] },
      'ok',
    ],
    ['unknown route with every model', {}, { url: '/v1/messages' }, 'ok'],
    ['endpoint allowed with /v1 in the scope', { scopes: { endpoints: ['/v1/chat/completions'] } }, {}, 'ok'],
  ])('%s → %s', (_name, overrides, req, expected) => {
    expect(reason(run(overrides, req))).toBe(expected);
  });

  it('honours XFF only from trusted proxies', () => {
    const { key, record } = makeKeyAndRecord({ scopes: { ipAllowlist: ['192.0.2.0/24'] } });
    const base = {
      synced: true,
      lookup: () => record,
      method: 'GET',
      url: '/v1/models',
      nowMs: NOW,
      trustedProxies: compileCidrs(['10.0.0.0/8']),
    };
    const headers = { authorization: `Bearer ${key}`, 'x-forwarded-for': '192.0.2.5' };
    expect(precheck({ ...base, headers, peer: '10.1.2.3' }).ok).toBe(true);
    expect(precheck({ ...base, headers, peer: '203.0.113.1' }).ok).toBe(false);
    expect(
      precheck({ ...base, headers: { ...headers, 'x-forwarded-for': '192.0.2.5, 203.0.113.1' }, peer: '10.1.2.3' }).ok,
    ).toBe(false);
  });

  it('a wrong secret for an existing key id is indistinguishable from an unknown id', () => {
    const { key, record } = makeKeyAndRecord();
    const impostor = makeKeyAndRecord().record;
    // same id, other hash: the presented key is well-formed and its id exists
    const r = precheck({
      synced: true,
      lookup: () => ({ ...impostor, keyId: record.keyId }),
      headers: { 'x-api-key': key },
      method: 'GET',
      url: '/v1/models',
      peer: '127.0.0.1',
      trustedProxies: compileCidrs([]),
      nowMs: NOW,
    });
    expect(r).toEqual({ ok: false, reason: 'unknown_key' });
  });

  it('attaches the record only once the secret verified', () => {
    const r = run({}, { auth: generateKey().key });
    expect(r.result.ok).toBe(false);
    expect(!r.result.ok && r.result.record).toBeUndefined();
  });
});

describe('extractKey', () => {
  it.each<[string, Record<string, string | string[]>, string | undefined | false]>([
    ['bearer', { authorization: 'Bearer abc' }, 'abc'],
    ['case-insensitive scheme', { authorization: 'bearer abc' }, 'abc'],
    ['x-api-key', { 'x-api-key': 'abc' }, 'abc'],
    ['api-key', { 'api-key': ' abc ' }, 'abc'],
    ['several, equal', { authorization: 'Bearer abc', 'x-api-key': 'abc' }, 'abc'],
    ['several, different', { authorization: 'Bearer abc', 'x-api-key': 'xyz' }, false],
    ['Basic auth alone', { authorization: 'Basic dXNlcjpwYXNz' }, false],
    ['Basic auth plus x-api-key', { authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': 'abc' }, 'abc'],
    ['bare "Bearer"', { authorization: 'Bearer' }, false],
    ['none', {}, undefined],
    ['array value', { 'x-api-key': ['a', 'b'] }, false],
  ])('%s', (_name, headers, expected) => {
    expect(extractKey(headers)).toBe(expected);
  });
});
