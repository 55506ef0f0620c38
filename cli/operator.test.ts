import { describe, expect, it } from 'vitest';
import { buildCli } from './main.ts';
import { operatorOptionsFromFlags, type OperatorFlags } from './operator.ts';

const base: OperatorFlags = {
  recordsNamespace: 'nemokeys-system',
  metricsPort: '8080',
  healthPort: '8081',
  bindAddress: '0.0.0.0',
  logLevel: 'info',
  leaderElect: true,
};

describe('operatorOptionsFromFlags', () => {
  it.each([
    {
      name: 'defaults: lease next to the records outside a Pod',
      flags: {},
      pod: undefined,
      want: {
        metricsPort: 8080,
        healthPort: 8081,
        leaderElection: true,
        leaseNamespace: 'nemokeys-system',
        logLevel: 'info',
      },
    },
    { name: 'in a Pod the lease lives in the Pod namespace', flags: {}, pod: 'ops', want: { leaseNamespace: 'ops' } },
    {
      name: 'explicit lease namespace wins',
      flags: { leaseNamespace: 'x' },
      pod: 'ops',
      want: { leaseNamespace: 'x' },
    },
    { name: '--no-leader-elect', flags: { leaderElect: false }, pod: undefined, want: { leaderElection: false } },
    {
      name: 'ports 0 and kubeconfig pass through',
      flags: { metricsPort: '0', healthPort: '0', kubeconfig: '/k' },
      pod: undefined,
      want: { metricsPort: 0, healthPort: 0, kubeconfig: '/k' },
    },
    { name: '--workers', flags: { workers: '64' }, pod: undefined, want: { apiKeyWorkers: 64 } },
    {
      name: '--usage-fold-after',
      flags: { usageFoldAfter: '2h' },
      pod: undefined,
      want: { usageFoldAfterMs: 7_200_000 },
    },
  ])('$name', ({ flags, pod, want }) => {
    expect(operatorOptionsFromFlags({ ...base, ...flags }, pod)).toMatchObject(want);
  });

  it.each([
    { flags: { metricsPort: 'eighty' }, error: /--metrics-port must be a port number/ },
    { flags: { healthPort: '70000' }, error: /--health-port must be a port number/ },
    { flags: { logLevel: 'loud' }, error: /--log-level must be one of/ },
    { flags: { workers: '0' }, error: /--workers must be a whole number from 1 to 128/ },
    { flags: { workers: '2.5' }, error: /--workers must be a whole number/ },
    { flags: { usageFoldAfter: '5m' }, error: /--usage-fold-after 5m: expected a duration of at least 15m/ },
    { flags: { usageFoldAfter: 'soon' }, error: /--usage-fold-after soon/ },
  ])('rejects $flags', ({ flags, error }) => {
    expect(() => operatorOptionsFromFlags({ ...base, ...flags }, undefined)).toThrow(error);
  });
});

describe('audit receiver and reminder mail flags', () => {
  it('--audit-webhook-port listens on --bind-address; the token comes from the environment only', () => {
    expect(
      operatorOptionsFromFlags({ ...base, auditWebhookPort: '9443' }, undefined, { NEMOKEYS_AUDIT_TOKEN: 't0k' }),
    ).toMatchObject({ audit: { listen: { host: '0.0.0.0', port: 9443 }, token: 't0k' } });
    expect(operatorOptionsFromFlags(base, undefined, { NEMOKEYS_AUDIT_TOKEN: 't0k' })).not.toHaveProperty('audit');
  });

  it('--smtp-url + --mail-from; credentials from NEMOKEYS_SMTP_USERNAME / _PASSWORD', () => {
    expect(
      operatorOptionsFromFlags({ ...base, smtpUrl: 'smtp://127.0.0.1:2525', mailFrom: 'k@example.com' }, undefined, {
        NEMOKEYS_SMTP_USERNAME: 'u',
        NEMOKEYS_SMTP_PASSWORD: 'p',
      }),
    ).toMatchObject({ mail: { url: 'smtp://127.0.0.1:2525', from: 'k@example.com', username: 'u', password: 'p' } });
  });

  it.each([
    { flags: { smtpUrl: 'smtp://h:25' }, env: {}, error: /--smtp-url and --mail-from go together/ },
    { flags: { mailFrom: 'k@example.com' }, env: {}, error: /--smtp-url and --mail-from go together/ },
    {
      flags: { smtpUrl: 'smtp://u:p@h:25', mailFrom: 'k@example.com' },
      env: {},
      error: /must not contain credentials/,
    },
    {
      flags: { smtpUrl: 'smtp://h:25', mailFrom: 'k@example.com' },
      env: { NEMOKEYS_SMTP_PASSWORD: 'p' },
      error: /NEMOKEYS_SMTP_USERNAME is not/,
    },
    { flags: { auditWebhookPort: 'x' }, env: {}, error: /--audit-webhook-port must be a port number/ },
    { flags: { auditTlsCertFile: '/c' }, env: {}, error: /go together/ },
    { flags: { auditTlsCertFile: '/c', auditTlsKeyFile: '/k' }, env: {}, error: /needs --audit-webhook-port/ },
  ])('rejects $flags', ({ flags, env, error }) => {
    expect(() => operatorOptionsFromFlags({ ...base, ...flags }, undefined, env)).toThrow(error);
  });
});

describe('nemokeys operator (commander wiring)', () => {
  it('is registered with its flags and defaults, without needing a cluster', () => {
    const cmd = buildCli().commands.find((c) => c.name() === 'operator');
    expect(cmd).toBeDefined();
    const help = cmd!.helpInformation();
    for (const flag of [
      '--kubeconfig',
      '--records-namespace',
      '--metrics-port',
      '--health-port',
      '--log-level',
      '--leader-elect',
      '--no-leader-elect',
      '--lease-namespace',
      '--audit-webhook-port',
      '--smtp-url',
      '--mail-from',
      '--workers',
    ]) {
      expect(help).toContain(flag);
    }
    cmd!.parseOptions(['--no-leader-elect', '--metrics-port', '9000']);
    expect(cmd!.opts()).toMatchObject({
      leaderElect: false,
      metricsPort: '9000',
      healthPort: '8081',
      recordsNamespace: 'nemokeys-system',
    });
  });
});
