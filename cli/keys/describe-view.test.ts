import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../api/index.ts';
import { conditionsTable, limitsText, lineageTable, renderDescribe, rotationText } from './describe-view.ts';
import { DAY, HOUR, NOW, apiKey, at, condition, entry } from './testing.ts';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const full = apiKey('prod-checkout', {
  metadata: { name: 'prod-checkout', generation: 3, annotations: { [ANNOTATIONS.rotate]: '2026-03-01T11:00:00.000Z' } },
  spec: {
    team: 'checkout',
    environment: 'prod',
    allowedModels: ['gpt-4o-mini', 'gpt-5'],
    ipAllowlist: ['10.0.0.0/8', '2001:db8::/32'],
    expiration: '90d',
    secret: { name: 'checkout-llm', key: 'OPENAI_API_KEY' },
    rotation: {
      automatic: true,
      before: '14d',
      handoff: { idle: '2h', maxOverlap: '3d' },
      restartTargets: [{ kind: 'Deployment', name: 'web' }],
    },
    rateLimit: { requestsPerMinute: 60, tokensPerMinute: 100000 },
    budget: { credits: 5000, period: 'Monthly' },
    revokedKeyIds: [A],
  },
  status: {
    observedGeneration: 2,
    currentKeyId: B,
    expiresAt: at(80 * DAY),
    lastUsedAt: at(-HOUR),
    usage: { requests: 10, credits: 200 },
    lastRotationRequest: '2026-03-01T11:00:00.000Z',
    conditions: [
      condition(
        'Ready',
        'True',
        'ScopesRestricted',
        "key bbbb… in Secret checkout-llm; model gpt-5 is not in team checkout's allowedModels",
      ),
    ],
    keys: [
      entry(B, 'Active', { createdAt: at(-DAY) }),
      entry(A, 'Revoked', { createdAt: at(-20 * DAY), revokedAt: at(-2 * HOUR), revokedReason: 'revokedKeyIds' }),
    ],
  },
});

describe('renderDescribe', () => {
  const text = renderDescribe(full, NOW);

  it.each([
    ['team', /^Team:\s+checkout$/m],
    ['environment', /^Environment:\s+prod$/m],
    ['stale status', /^State:\s+Ready \(status is older than the spec/m],
    ['requested models', /^ {2}Models:\s+gpt-4o-mini, gpt-5$/m],
    ['inherited endpoints', /^ {2}Endpoints:\s+\(everything team checkout allows\)$/m],
    ['ip allowlist', /^ {2}Source IPs:\s+10\.0\.0\.0\/8, 2001:db8::\/32$/m],
    [
      'refused scopes from the condition',
      /Scopes refused[^\n]*\n {2}Ready\/ScopesRestricted: key bbbb… in Secret checkout-llm; model gpt-5 is not in team/,
    ],
    ['expiry', new RegExp(`^Expiration:\\s+90d \\(current key expires ${at(80 * DAY)} \\(in 80d\\)\\)$`, 'm')],
    [
      'rotation config',
      /^Rotation:\s+automatic, 14d before expiry; hand-off after 2h idle, at most 3d overlap; restarts Deployment\/web$/m,
    ],
    ['rotation request done', /^Rotation requested:\s+2026-03-01T11:00:00.000Z \(done\)$/m],
    ['rate limit', /^Rate limit:\s+60 requests\/min, 100000 tokens\/min$/m],
    ['budget', /^Budget:\s+5000 credits per month$/m],
    ['revoked ids', new RegExp(`^Revoked:\\s+key ids ${A} \\(spec.revokedKeyIds\\)$`, 'm')],
    ['secret location', /^Secret:\s+checkout-llm \(data key OPENAI_API_KEY\)/m],
    ['current key', new RegExp(`^Current key:\\s+${B} …BBBB$`, 'm')],
    ['usage', /^Usage:\s+10 requests, 200 credits \(lifetime\)$/m],
    ['condition message', /Ready\s+True\s+ScopesRestricted\s+5m ago\s+key bbbb… in Secret checkout-llm/],
  ])('shows %s', (_l, re) => expect(text).toMatch(re));

  it('lists the lineage oldest first, marking the current key', () => {
    const lines = lineageTable(full, NOW).split('\n');
    expect(lines[1]).toMatch(
      new RegExp(`^${A}\\s+…AAAA\\s+Revoked\\s+20d ago\\s+never\\s+never\\s+0\\s+0\\s+2h ago revokedKeyIds$`),
    );
    expect(lines[2]).toMatch(new RegExp(`^${B} \\(current\\)\\s+…BBBB\\s+Active\\s+24h ago`));
  });

  it('says when the operator has not acted yet', () => {
    const fresh = renderDescribe(apiKey('dev-x'), NOW);
    expect(fresh).toMatch(/^State:\s+Pending$/m);
    expect(fresh).toContain('<none: the operator has not issued a key yet>');
    expect(fresh).toContain('<none: the operator has not reconciled this ApiKey yet>');
    expect(fresh).toMatch(/^Secret:\s+dev-x \(data key api-key\)/m);
    expect(fresh).not.toContain('Scopes refused');
    expect(conditionsTable(apiKey('x'), NOW)).toContain('<none');
  });
});

describe('config summaries', () => {
  it.each([
    [{}, 'manual (keys rotate); hand-off after 1h idle, at most 7d overlap'],
    [{ rotation: { automatic: true } }, 'automatic; hand-off after 1h idle, at most 7d overlap'],
  ])('rotation %j', (spec, text) => expect(rotationText(apiKey('a', { spec: { team: 't', ...spec } }))).toBe(text));

  it.each([
    [{}, { rateLimit: 'none', budget: 'none' }],
    [
      { rateLimit: { tokensPerMinute: 5 }, budget: { credits: 7, period: 'Never' as const } },
      { rateLimit: '5 tokens/min', budget: '7 credits (lifetime)' },
    ],
    [{ budget: { credits: 7, period: 'Daily' as const } }, { rateLimit: 'none', budget: '7 credits per day' }],
  ])('limits %j', (spec, text) => expect(limitsText(apiKey('a', { spec: { team: 't', ...spec } }))).toEqual(text));
});
