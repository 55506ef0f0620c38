// The API server itself rejects bad Teams and ApiKeys, with a message naming the field and what is wrong.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { REVOKED_KEY_IDS_MAX } from '../api/apikey.ts';
import { crdYaml } from '../api/crd.ts';
import { generateKey } from '../api/keyformat.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster } from './support/cluster.ts';

const NS = 'crd-validation';
const long = (n: number) => 'a'.repeat(n);
const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));

/** The Status object's message, as kubectl would print it. */
function statusMessage(body: unknown): string {
  const status = typeof body === 'string' ? (JSON.parse(body) as { message?: string }) : (body as { message?: string });
  return status.message ?? JSON.stringify(body);
}

type Case = [description: string, kind: 'Team' | 'ApiKey', spec: unknown, expected: RegExp[]];
const key = (spec: Record<string, unknown>) => ({ team: 'payments', ...spec });

const invalid: Case[] = [
  ['team without models', 'Team', { allowedModels: [] }, [/spec\.allowedModels/, /at least 1 item/]],
  ['team missing models', 'Team', {}, [/spec\.allowedModels/, /Required value/]],
  ['team model with spaces', 'Team', { allowedModels: ['gpt 4'] }, [/spec\.allowedModels\[0\]/, /model name/]],
  [
    'team endpoint without slash',
    'Team',
    { allowedModels: ['*'], allowedEndpoints: ['chat'] },
    [/spec\.allowedEndpoints\[0\]/, /starting with "\/"/],
  ],
  [
    'team maxExpiration in weeks',
    'Team',
    { allowedModels: ['*'], maxExpiration: '2w' },
    [/spec\.maxExpiration/, /unit s, m, h or d/],
  ],
  [
    'team contact with a display name',
    'Team',
    { allowedModels: ['*'], contacts: ['Ops <ops@example.com>'] },
    [/spec\.contacts\[0\]/, /email address/],
  ],
  [
    'team ipAllowlistFrom with a bad ConfigMap name',
    'Team',
    { allowedModels: ['*'], ipAllowlistFrom: [{ configMapKeyRef: { name: 'CI_Ranges', key: 'cidrs' } }] },
    [/spec\.ipAllowlistFrom\[0\]\.configMapKeyRef\.name/, /name of a ConfigMap/],
  ],
  [
    'key contact without a domain',
    'ApiKey',
    key({ contacts: ['ops@localhost'] }),
    [/spec\.contacts\[0\]/, /email address/],
  ],
  [
    'key contact with a header injection',
    'ApiKey',
    key({ contacts: ['a@example.com\r\nBcc: x@evil.io'] }),
    [/spec\.contacts\[0\]/, /email address/],
  ],
  ['empty team', 'ApiKey', { team: '' }, [/spec\.team/, /name of a Team/]],
  ['missing team', 'ApiKey', {}, [/spec\.team/, /Required value/]],
  ['team name with capitals', 'ApiKey', key({ team: 'Payments' }), [/spec\.team/, /lowercase/]],
  ['CIDR prefix too long', 'ApiKey', key({ ipAllowlist: ['10.0.0.0/33'] }), [/spec\.ipAllowlist\[0\]/, /CIDR block/]],
  ['hostname as CIDR', 'ApiKey', key({ ipAllowlist: ['vpn.example.com'] }), [/spec\.ipAllowlist\[0\]/, /CIDR block/]],
  [
    'IPv6 prefix too long',
    'ApiKey',
    key({ ipAllowlist: ['2001:db8::/129'] }),
    [/spec\.ipAllowlist\[0\]/, /CIDR block/],
  ],
  ['expiration in words', 'ApiKey', key({ expiration: '30 days' }), [/spec\.expiration/, /Never, a duration/]],
  ['expiration lowercase never', 'ApiKey', key({ expiration: 'never' }), [/spec\.expiration/, /Never, a duration/]],
  ['expiration 13th month', 'ApiKey', key({ expiration: '2027-13-01T00:00:00Z' }), [/spec\.expiration/, /RFC 3339/]],
  ['expiration date without time', 'ApiKey', key({ expiration: '2027-01-01' }), [/spec\.expiration/, /RFC 3339/]],
  ['expiration absurdly long', 'ApiKey', key({ expiration: '99999d' }), [/spec\.expiration/, /at most 3660d/]],
  [
    'unknown environment',
    'ApiKey',
    key({ environment: 'qa' }),
    [/spec\.environment/, /supported values: "dev", "stage", "prod"/],
  ],
  [
    'zero requests per minute',
    'ApiKey',
    key({ rateLimit: { requestsPerMinute: 0 } }),
    [/spec\.rateLimit\.requestsPerMinute/, /greater than or equal to 1/],
  ],
  [
    'absurd tokens per minute',
    'ApiKey',
    key({ rateLimit: { tokensPerMinute: 10_000_000_000 } }),
    [/spec\.rateLimit\.tokensPerMinute/, /less than or equal to/],
  ],
  [
    'negative budget',
    'ApiKey',
    key({ budget: { credits: -5 } }),
    [/spec\.budget\.credits/, /greater than or equal to 1/],
  ],
  [
    'budget period weekly',
    'ApiKey',
    key({ budget: { credits: 5, period: 'Weekly' } }),
    [/spec\.budget\.period/, /supported values/],
  ],
  [
    'too many CIDRs',
    'ApiKey',
    key({ ipAllowlist: many(129, (i) => `10.0.${i}.0/24`) }),
    [/spec\.ipAllowlist/, /at most 128 items/],
  ],
  [
    'ipAllowlistFrom with a bad ConfigMap name',
    'ApiKey',
    key({ ipAllowlistFrom: [{ configMapKeyRef: { name: 'CI_Ranges', key: 'cidrs' } }] }),
    [/spec\.ipAllowlistFrom\[0\]\.configMapKeyRef\.name/, /name of a ConfigMap/],
  ],
  [
    'too many ipAllowlistFrom references',
    'ApiKey',
    key({ ipAllowlistFrom: many(9, (i) => ({ configMapKeyRef: { name: `r${i}`, key: 'k' } })) }),
    [/spec\.ipAllowlistFrom/, /at most 8 items/],
  ],
  [
    'duplicate models',
    'ApiKey',
    key({ allowedModels: ['gpt-4o', 'gpt-4o'] }),
    [/spec\.allowedModels\[1\]/, /Duplicate value/],
  ],
  [
    'oversized model name',
    'ApiKey',
    key({ allowedModels: [long(300)] }),
    [/spec\.allowedModels\[0\]/, /may not be more than 253/],
  ],
  ['secret data key with slash', 'ApiKey', key({ secret: { key: 'a/b' } }), [/spec\.secret\.key/, /Secret data key/]],
  [
    'rotation before in weeks',
    'ApiKey',
    key({ rotation: { automatic: true, before: '1w' } }),
    [/spec\.rotation\.before/, /unit s, m, h or d/],
  ],
  [
    'restart target kind Pod',
    'ApiKey',
    key({ rotation: { restartTargets: [{ kind: 'Pod', name: 'x' }] } }),
    [/spec\.rotation\.restartTargets\[0\]\.kind/, /supported values/],
  ],
  [
    'revoked key id malformed',
    'ApiKey',
    key({ revokedKeyIds: ['not-a-key-id'] }),
    [/spec\.revokedKeyIds\[0\]/, /key id/],
  ],
  ['revoked as string', 'ApiKey', key({ revoked: 'yes' }), [/spec\.revoked/, /boolean/]],
  ['unknown field', 'ApiKey', key({ surprise: true }), [/spec\.surprise/, /unknown field/]],
  [
    'unknown nested field',
    'ApiKey',
    key({ rateLimit: { requestsPerHour: 5 } }),
    [/spec\.rateLimit\.requestsPerHour/, /unknown field/],
  ],
];

describe.skipIf(!hasCluster())('CRD validation on the real API server', () => {
  const custom = () => adminKubeConfig().makeApiClient(CustomObjectsApi);
  const create = (kind: 'Team' | 'ApiKey', name: string, spec: unknown) => {
    const names = kind === 'Team' ? KINDS.team : KINDS.apiKey;
    return custom().createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: names.plural,
      body: { apiVersion: API_VERSION, kind, metadata: { name, namespace: NS }, spec },
      fieldValidation: 'Strict',
    });
  };

  beforeAll(async () => {
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: NS } } })
      .catch(() => {});
  });

  it('has at least 20 invalid cases', () => expect(invalid.length).toBeGreaterThanOrEqual(20));

  it.each(invalid)('rejects %s', async (_d, kind, spec, expected) => {
    const name = `bad-${Math.random().toString(36).slice(2, 8)}`;
    const err = await create(kind, name, spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the API server accepted an invalid object').toBeInstanceOf(ApiException);
    const e = err as ApiException<unknown>;
    expect([400, 422]).toContain(e.code);
    const message = statusMessage(e.body);
    for (const re of expected) expect(message).toMatch(re);
  });

  it('accepts a maximal valid ApiKey and fills defaults', async () => {
    const created = (await create('ApiKey', 'everything', {
      team: 'payments',
      allowedModels: ['gpt-4o-mini', '*'],
      allowedEndpoints: ['/chat/completions', '/v1/embeddings'],
      ipAllowlist: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1'],
      ipAllowlistFrom: [{ configMapKeyRef: { name: 'ci.ranges', key: 'github-actions.txt' } }],
      expiration: '2027-06-30T23:59:59.5+02:00',
      environment: 'prod',
      secret: { name: 'llm.key', key: 'OPENAI_API_KEY' },
      rotation: {
        automatic: true,
        before: '14d',
        handoff: { idle: '30m' },
        restartTargets: [{ kind: 'Deployment', name: 'web' }],
      },
      rateLimit: { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000 },
      budget: { credits: 1_000_000_000_000, period: 'Monthly' },
      revokedKeyIds: ['0123456789abcdef'],
      contacts: ['oncall@example.com', "o'brien+keys@mail.example.co.uk"],
    })) as { spec: { revoked: boolean; rotation: { handoff: { maxOverlap: string } } } };
    expect(created.spec.revoked).toBe(false);
    expect(created.spec.rotation.handoff.maxOverlap).toBe('7d');
  });

  it('revocation is final: ids can be added to spec.revokedKeyIds, never removed (nor the list dropped)', async () => {
    const [a, b] = ['0123456789abcdef', 'fedcba9876543210'];
    await create('ApiKey', 'final-revoke', { team: 'payments' });
    const patch = (spec: Record<string, unknown>) =>
      custom()
        .patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace: NS,
            plural: KINDS.apiKey.plural,
            name: 'final-revoke',
            body: { spec },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        )
        .then(
          () => 'accepted',
          (e: unknown) => (e instanceof ApiException ? statusMessage(e.body) : String(e)),
        );
    expect(await patch({ revokedKeyIds: [a] })).toBe('accepted');
    expect(await patch({ revokedKeyIds: [a, b] })).toBe('accepted');
    expect(await patch({ revokedKeyIds: [b, a] })).toBe('accepted'); // order is not meaning
    const dropOne = await patch({ revokedKeyIds: [b] });
    expect(dropOne).toMatch(/spec\.revokedKeyIds/);
    expect(dropOne).toMatch(/revocation is final/);
    expect(await patch({ revokedKeyIds: null })).toMatch(/revocation is final/);
    expect(await patch({ revokedKeyIds: [] })).toMatch(/revocation is final/);
    // other spec changes of an object with revoked ids still pass the rule
    expect(await patch({ allowedModels: ['gpt-4o'] })).toBe('accepted');
    // a full list stays within the CEL cost budget, both ways
    const full = [a, b, ...Array.from({ length: REVOKED_KEY_IDS_MAX - 2 }, () => generateKey().keyId)];
    expect(await patch({ revokedKeyIds: full })).toBe('accepted');
    expect(await patch({ revokedKeyIds: full.slice(1) })).toMatch(/revocation is final/);
    expect(await patch({ revokedKeyIds: [...full, generateKey().keyId] })).toMatch(/spec\.revokedKeyIds.*256/);
  });

  it('applies every example with kubectl apply --server-side', () => {
    const dir = join(import.meta.dirname, '..', 'examples');
    for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.yaml'))
      .sort()) {
      const out = execFileSync(
        clusterKubectl(),
        ['apply', '--server-side', '--field-manager=examples-test', '-f', join(dir, file)],
        {
          env: { ...process.env, KUBECONFIG: clusterKubeconfig() },
          encoding: 'utf8',
        },
      );
      expect(out, file).toMatch(/serverside-applied|unchanged/);
    }
  });

  it('kubectl get apikeys prints the printer columns', () => {
    const out = execFileSync(clusterKubectl(), ['get', 'ak', '-n', 'checkout'], {
      env: { ...process.env, KUBECONFIG: clusterKubeconfig() },
      encoding: 'utf8',
    });
    expect(out.split('\n')[0]).toMatch(/NAME\s+TEAM\s+READY\s+KEY ID\s+EXPIRES\s+LAST USED\s+REQUESTS\s+AGE/);
    expect(out).toContain('prod-checkout-service');
  });
});
