import { describe, expect, it } from 'vitest';
import { ApiKeySpecSchema } from './apikey.ts';
import { formatDuration, parseDurationMs } from './duration.ts';
import { expiresAtFor, parseExpiration } from './expiration.ts';
import { emailAddress, isCidrOrAddress } from './fields.ts';
import { TeamSpecSchema } from './team.ts';

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['30d', 2_592_000_000],
    ['3660d', 316_224_000_000],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
    expect(parseDurationMs(formatDuration(ms))).toBe(ms);
  });
  it.each(['', '0s', '-1h', '1.5h', '1w', '1 h', 'h', '01h', '3661d', '9999999d', '1h30m'])('rejects %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe('expiration', () => {
  const created = new Date('2026-01-01T00:00:00Z');
  it('Never, durations and datetimes', () => {
    expect(expiresAtFor(parseExpiration('Never')!, created)).toBeNull();
    expect(expiresAtFor(parseExpiration(undefined)!, created)).toBeNull();
    expect(expiresAtFor(parseExpiration('30d')!, created)?.toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(expiresAtFor(parseExpiration('2027-02-01T10:00:00+02:00')!, created)?.toISOString()).toBe(
      '2027-02-01T08:00:00.000Z',
    );
  });
  it.each(['never', 'tomorrow', '2027-13-01T00:00:00Z', '2027-01-01', '2027-01-01 00:00:00Z', '30 days', '0d'])(
    'rejects %j',
    (text) => expect(parseExpiration(text)).toBeUndefined(),
  );
});

describe('CIDR / address', () => {
  it.each(['10.0.0.0/8', '192.168.1.7', '0.0.0.0/0', '2001:db8::/32', '::1', '::/0', '::ffff:10.0.0.1'])(
    'accepts %s',
    (s) => expect(isCidrOrAddress(s)).toBe(true),
  );
  it.each([
    '10.0.0.0/33',
    '10.0.0',
    '300.1.1.1',
    'fe80::1%eth0',
    '2001:db8::/129',
    'localhost',
    '',
    '10.0.0.0/8/8',
    '010.0.0.1',
  ])('rejects %j', (s) => expect(isCidrOrAddress(s)).toBe(false));
});

describe('email address (contacts)', () => {
  const ok = (s: string) => emailAddress().safeParse(s).success;
  it.each(['ops@example.com', "o'brien+keys@mail.example.co.uk", 'A.B@x-y.io'])('accepts %s', (s) =>
    expect(ok(s)).toBe(true),
  );
  it.each([
    'Ops <ops@example.com>',
    'ops@localhost',
    'ops',
    '@example.com',
    'a@b@example.com',
    'a b@example.com',
    'a@example.com\r\nBcc: x@evil.io',
    'a@-example.com',
    `${'a'.repeat(250)}@example.com`,
  ])('rejects %j', (s) => expect(ok(s)).toBe(false));
});

describe('spec schemas', () => {
  it('fills defaults', () => {
    const spec = ApiKeySpecSchema.parse({ team: 'payments' });
    expect(spec.expiration).toBe('Never');
    expect(spec.revoked).toBe(false);
    expect(ApiKeySpecSchema.parse({ team: 't', secret: {} }).secret?.key).toBe('api-key');
  });
  it.each([
    [{ team: '' }, 'team'],
    [{ team: 'Bad_Name' }, 'team'],
    [{ team: 't', ipAllowlist: ['10.0.0.0/40'] }, 'ipAllowlist'],
    [{ team: 't', expiration: '2 days' }, 'expiration'],
    [{ team: 't', environment: 'qa' }, 'environment'],
    [{ team: 't', rateLimit: { requestsPerMinute: 0 } }, 'rateLimit'],
    [{ team: 't', budget: { credits: -5 } }, 'budget'],
    [{ team: 't', allowedModels: ['gpt-4o', 'gpt-4o'] }, 'allowedModels'],
    [{ team: 't', surprise: true }, 'surprise'],
  ])('rejects %j naming %s', (input, field) => {
    const result = ApiKeySpecSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(field);
  });
  it('a team needs at least one model', () => {
    expect(TeamSpecSchema.safeParse({ allowedModels: [] }).success).toBe(false);
    expect(TeamSpecSchema.safeParse({ allowedModels: ['*'] }).success).toBe(true);
  });
});
