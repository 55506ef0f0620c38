import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../../api/apikey.ts';
import { createApiKeyMetrics } from './metrics.ts';

const at = '2027-01-01T00:00:00Z';
const secs = Date.parse(at) / 1000;
const key = (id: string, state: string, expiresAt: string | null = at) =>
  ({ id, state, createdAt: at, hint: 'x', ...(expiresAt ? { expiresAt } : {}) }) as NonNullable<
    ApiKeyStatus['keys']
  >[number];
const series = async (registry: Registry) =>
  (await registry.metrics())
    .split('\n')
    .filter((l) => l.startsWith('nemokeys_apikey_expiry_timestamp_seconds{'))
    .sort();

describe('the expiry gauge, kept up to date as statuses arrive', () => {
  it('exports usable key ids and an expired current one; follows rotation, team moves, revocation and deletion', async () => {
    const registry = new Registry();
    const m = createApiKeyMetrics(registry);
    const line = (team: string, id: string) =>
      `nemokeys_apikey_expiry_timestamp_seconds{namespace="ns",apikey="a",team="${team}",key_id="${id}"} ${secs}`;

    m.observe('ns/a', 'pay', { currentKeyId: 'k1', keys: [key('k1', 'Active'), key('k0', 'Revoked')] });
    expect(await series(registry)).toEqual([line('pay', 'k1')]);

    m.observe('ns/a', 'pay', { currentKeyId: 'k2', keys: [key('k2', 'Active'), key('k1', 'Superseded')] });
    expect(await series(registry)).toEqual([line('pay', 'k1'), line('pay', 'k2')]);

    m.observe('ns/a', 'ops', { currentKeyId: 'k2', keys: [key('k2', 'Active'), key('k1', 'Revoked')] });
    expect(await series(registry)).toEqual([line('ops', 'k2')]);

    m.observe('ns/a', 'ops', { currentKeyId: 'k2', keys: [key('k2', 'Expired')] });
    expect(await series(registry)).toEqual([line('ops', 'k2')]);

    m.observe('ns/a', 'ops', { currentKeyId: 'k3', keys: [key('k3', 'Active', null), key('k2', 'Expired')] });
    expect(await series(registry)).toEqual([]);

    m.observe('ns/b', 'ops', { currentKeyId: 'k9', keys: [key('k9', 'Active')] });
    m.forget('ns/b');
    expect(await series(registry)).toEqual([]);
  });
});
