import { describe, expect, it } from 'vitest';
import { keyDocument, renderJsonList, renderJsonOne } from './json-view.ts';
import { DAY, apiKey, at, condition, entry } from './testing.ts';

describe('json output', () => {
  const obj = apiKey('prod-a', {
    metadata: { name: 'prod-a', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"secret":"x"}' } },
    spec: {
      team: 'checkout',
      environment: 'prod',
      secret: { name: 'wl', key: 'OPENAI_API_KEY' },
      revokedKeyIds: ['aaaaaaaaaaaaaaaa'],
    },
    status: {
      currentKeyId: 'bbbbbbbbbbbbbbbb',
      usage: { requests: 3, credits: 40 },
      expiresAt: at(DAY),
      conditions: [condition('Ready', 'True', 'KeyReady', 'ok')],
      keys: [entry('aaaaaaaaaaaaaaaa', 'Revoked', { revokedReason: 'manual' }), entry('bbbbbbbbbbbbbbbb', 'Active')],
    },
  });

  it('is a fixed set of fields with defaults filled in', () => {
    const doc = keyDocument(obj);
    expect(Object.keys(doc)).toEqual([
      'namespace',
      'name',
      'team',
      'environment',
      'state',
      'scopes',
      'expiration',
      'expiresAt',
      'rotation',
      'rateLimit',
      'budget',
      'revoked',
      'revokedKeyIds',
      'secret',
      'currentKeyId',
      'lastUsedAt',
      'usage',
      'keys',
      'conditions',
      'observedGeneration',
      'generation',
    ]);
    expect(doc).toMatchObject({
      namespace: 'shop',
      name: 'prod-a',
      state: 'Ready',
      expiration: 'Never',
      revoked: false,
      scopes: { allowedModels: [], allowedEndpoints: [], ipAllowlist: [] },
      secret: { name: 'wl', key: 'OPENAI_API_KEY' },
      revokedKeyIds: ['aaaaaaaaaaaaaaaa'],
      usage: { requests: 3, credits: 40 },
      currentKeyId: 'bbbbbbbbbbbbbbbb',
    });
    expect(doc.keys.map((k) => [k.id, k.state, k.revokedReason])).toEqual([
      ['aaaaaaaaaaaaaaaa', 'Revoked', 'manual'],
      ['bbbbbbbbbbbbbbbb', 'Active', null],
    ]);
  });

  it('never copies annotations (last-applied configuration can carry anything)', () => {
    expect(renderJsonOne(obj)).not.toContain('last-applied');
  });

  it('lists items sorted by name and parses back', () => {
    const parsed = JSON.parse(renderJsonList([apiKey('z'), apiKey('a')])) as { items: { name: string }[] };
    expect(parsed.items.map((i) => i.name)).toEqual(['a', 'z']);
  });
});
