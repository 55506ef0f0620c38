import { describe, expect, it } from 'vitest';
import type { ApiKeyObject } from '../cli/keys/model.ts';
import { keyView, revokeCandidate } from './view.ts';
import { parseListen } from './listen.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const key = (over: { created?: number; lastUsed?: number; revoked?: boolean }): ApiKeyObject => ({
  metadata: { name: 'k', namespace: 'ns', creationTimestamp: ago(over.created ?? 100 * DAY) },
  spec: { team: 't', revoked: over.revoked ?? false },
  status: {
    ...(over.lastUsed !== undefined && { lastUsedAt: ago(over.lastUsed) }),
    conditions: [{ type: 'Ready', status: 'True', reason: 'Issued', message: '', lastTransitionTime: ago(DAY) }],
  },
});

describe('revokeCandidate (idle after 30d)', () => {
  it.each([
    ['never used, created 31d ago', key({ created: 31 * DAY }), 'never used'],
    ['never used, created yesterday', key({ created: DAY }), undefined],
    ['last used 45d ago', key({ lastUsed: 45 * DAY }), 'idle for 45d'],
    ['last used 29d ago', key({ lastUsed: 29 * DAY }), undefined],
    ['revoked and idle', key({ lastUsed: 45 * DAY, revoked: true }), undefined],
  ])('%s → %s', (_n, obj, want) => expect(revokeCandidate(obj, NOW, 30 * DAY)).toBe(want));
});

it("keyView carries spec, status and the CLI's state, nothing else of metadata", () => {
  const v = keyView(
    { ...key({ lastUsed: DAY }), metadata: { ...key({}).metadata, annotations: { secret: 'x' }, uid: 'u' } },
    NOW,
    30 * DAY,
  );
  expect(v).toMatchObject({ namespace: 'ns', name: 'k', uid: 'u', state: 'Ready', spec: { team: 't' } });
  expect(JSON.stringify(v)).not.toContain('annotations');
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080, loopback: true }],
    ['localhost:0', { host: 'localhost', port: 0, loopback: true }],
    ['[::1]:9000', { host: '::1', port: 9000, loopback: true }],
    ['9000', { host: '127.0.0.1', port: 9000, loopback: true }],
    [':9000', { host: '127.0.0.1', port: 9000, loopback: true }],
    ['0.0.0.0:80', { host: '0.0.0.0', port: 80, loopback: false }],
  ])('%s', (text, want) => expect(parseListen(text)).toEqual(want));
  it.each(['localhost', '127.0.0.1:70000', 'a:b'])('%s is refused with a hint', (text) =>
    expect(() => parseListen(text)).toThrow(/expected HOST:PORT/),
  );
});
