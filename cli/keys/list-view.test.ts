import { describe, expect, it } from 'vitest';
import { LIST_HEADERS, currentKeyCell, expiresCell, listRow, renderList } from './list-view.ts';
import { DAY, HOUR, MIN, NOW, apiKey, at, condition, entry } from './testing.ts';

const rotating = apiKey('prod-checkout', {
  spec: {
    team: 'checkout',
    environment: 'prod',
    allowedModels: ['gpt-4o-mini', 'gemini-2.5-pro', 'o3'],
    allowedEndpoints: ['/chat/completions'],
    ipAllowlist: ['10.0.0.0/8'],
    expiration: '90d',
  },
  status: {
    currentKeyId: 'bbbbbbbbbbbbbbbb',
    expiresAt: at(80 * DAY),
    lastUsedAt: at(-5 * MIN),
    usage: { requests: 1234, credits: 98765 },
    conditions: [condition('Ready', 'True', 'KeyReady'), condition('Rotating', 'True', 'HandoffPending')],
    keys: [entry('aaaaaaaaaaaaaaaa', 'Superseded'), entry('bbbbbbbbbbbbbbbb', 'Active')],
  },
});

describe('listRow', () => {
  it('renders every column from spec and status', () => {
    expect(Object.fromEntries(LIST_HEADERS.map((h, i) => [h, listRow(rotating, NOW)[i]]))).toEqual({
      NAME: 'prod-checkout',
      TEAM: 'checkout',
      ENV: 'prod',
      MODELS: 'gpt-4o-mini,gemini-2.5-pro,+1',
      ENDPOINTS: '/chat/completions',
      IPS: '10.0.0.0/8',
      'CURRENT KEY': 'bbbbbbbbbbbbbbbb …BBBB',
      SUPERSEDED: 'aaaaaaaaaaaaaaaa',
      STATE: 'Rotating',
      EXPIRES: 'in 80d',
      'LAST USED': '5m ago',
      REQUESTS: '1234',
      CREDITS: '98765',
    });
  });

  it('renders a key the operator has not seen yet with inherited scopes and placeholders', () => {
    expect(listRow(apiKey('dev-x'), NOW)).toEqual([
      'dev-x',
      'checkout',
      '-',
      '(team)',
      '(team)',
      '(team)',
      '<none>',
      '-',
      'Pending',
      'Never',
      'never',
      '0',
      '0',
    ]);
  });
});

describe('cells', () => {
  it.each([
    [
      'status wins',
      apiKey('a', { spec: { team: 't', expiration: '30d' }, status: { expiresAt: at(-HOUR) } }),
      '1h ago',
    ],
    ['duration before the first key', apiKey('a', { spec: { team: 't', expiration: '30d' } }), '30d'],
    ['never', apiKey('a', { spec: { team: 't', expiration: 'Never' } }), 'Never'],
  ])('EXPIRES: %s', (_l, obj, text) => expect(expiresCell(obj, NOW)).toBe(text));

  it('CURRENT KEY without a lineage entry shows the bare id', () => {
    expect(currentKeyCell(apiKey('a', { status: { currentKeyId: 'cccccccccccccccc' } }))).toBe('cccccccccccccccc');
  });
});

describe('renderList', () => {
  const keys = [
    apiKey('stage-checkout', { metadata: { name: 'stage-checkout', namespace: 'b' } }),
    apiKey('dev-checkout', { metadata: { name: 'dev-checkout', namespace: 'b' } }),
    apiKey('prod-checkout', { metadata: { name: 'prod-checkout', namespace: 'b' } }),
    apiKey('dev-checkout', { metadata: { name: 'dev-checkout', namespace: 'a' } }),
  ];
  const names = (text: string) =>
    text
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/).slice(0, 2).join(' '));

  it('sorts by name so the environment prefix groups keys (namespace breaks ties)', () => {
    expect(names(renderList(keys, { allNamespaces: true, now: NOW }))).toEqual([
      'a dev-checkout',
      'b dev-checkout',
      'b prod-checkout',
      'b stage-checkout',
    ]);
  });

  it('adds NAMESPACE only for all namespaces', () => {
    expect(renderList(keys, { allNamespaces: true, now: NOW }).startsWith('NAMESPACE   NAME')).toBe(true);
    expect(renderList(keys, { allNamespaces: false, now: NOW }).startsWith('NAME  ')).toBe(true);
  });

  it("does not reorder the caller's array", () => {
    const copy = [...keys];
    renderList(keys, { allNamespaces: false, now: NOW });
    expect(keys).toEqual(copy);
  });
});
