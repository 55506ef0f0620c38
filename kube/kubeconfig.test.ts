import { describe, expect, it } from 'vitest';
import { connectionFromDocs, inClusterConnection, type KubeConfigDoc } from './kubeconfig.ts';

const files: Record<string, string> = {
  '/etc/k/ca.crt': 'CA-FROM-FILE',
  '/etc/k/client.crt': 'CERT-FROM-FILE',
  '/etc/k/client.key': 'KEY-FROM-FILE',
  '/sa/ca.crt': 'SA-CA',
  '/sa/namespace': 'nemokeys-system\n',
};
const read = (path: string): Buffer => {
  const text = files[path];
  if (text === undefined) throw new Error('ENOENT: no such file');
  return Buffer.from(text);
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): KubeConfigDoc {
  return {
    dir: '/etc/k',
    doc: {
      'current-context': 'ctx',
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'team-a' } }],
      clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443/', ...cluster } }],
      users: [{ name: 'u', user }],
    },
  };
}

describe('connectionFromDocs', () => {
  it.each([
    {
      name: 'client certificate from data, CA from a relative file',
      doc: kubeconfig(
        { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
        { 'certificate-authority': 'ca.crt' },
      ),
      want: { ca: 'CA-FROM-FILE', cert: 'CERT', key: 'KEY', credentials: { kind: 'none' } },
    },
    {
      name: 'client certificate from files',
      doc: kubeconfig({ 'client-certificate': '/etc/k/client.crt', 'client-key': 'client.key' }),
      want: { cert: 'CERT-FROM-FILE', key: 'KEY-FROM-FILE', credentials: { kind: 'none' } },
    },
    {
      name: 'token',
      doc: kubeconfig({ token: 't0k' }),
      want: { credentials: { kind: 'token', token: 't0k' } },
    },
    {
      name: 'token file relative to the kubeconfig',
      doc: kubeconfig({ tokenFile: 'token' }),
      want: { credentials: { kind: 'token-file', path: '/etc/k/token' } },
    },
    {
      name: 'basic auth',
      doc: kubeconfig({ username: 'admin', password: 'pw' }),
      want: { credentials: { kind: 'basic', username: 'admin', password: 'pw' } },
    },
    {
      name: 'exec plugin',
      doc: kubeconfig({
        exec: { command: 'aws', args: ['eks', 'get-token'], env: [{ name: 'AWS_PROFILE', value: 'p' }] },
      }),
      want: {
        credentials: {
          kind: 'exec',
          exec: {
            command: 'aws',
            args: ['eks', 'get-token'],
            env: { AWS_PROFILE: 'p' },
            apiVersion: 'client.authentication.k8s.io/v1',
            dir: '/etc/k',
          },
        },
      },
    },
    {
      name: 'impersonation with several groups and extras',
      doc: kubeconfig({
        token: 't',
        as: 'alice',
        'as-groups': ['sre', 'dev'],
        'as-user-extra': { scopes: ['a', 'b'] },
      }),
      want: { impersonate: { user: 'alice', groups: ['sre', 'dev'], extra: { scopes: ['a', 'b'] } } },
    },
    {
      name: 'TLS options',
      doc: kubeconfig({ token: 't' }, { 'insecure-skip-tls-verify': true, 'tls-server-name': 'kubernetes' }),
      want: { insecureSkipTLSVerify: true, tlsServerName: 'kubernetes' },
    },
  ])('$name', ({ doc, want }) => {
    const conn = connectionFromDocs([doc], 'test', read);
    const text = (b: Buffer | undefined) => b?.toString('utf8');
    const got = {
      ...conn,
      ca: text(conn.ca),
      cert: text(conn.cert),
      key: text(conn.key),
    };
    expect(got).toMatchObject({ server: 'https://10.0.0.1:6443', namespace: 'team-a', ...want });
  });

  it('merges files like kubectl: the first current-context and the first definition of a name win', () => {
    const first: KubeConfigDoc = {
      dir: '/a',
      doc: { users: [{ name: 'u', user: { token: 'first' } }] },
    };
    const second = kubeconfig({ token: 'second' });
    const conn = connectionFromDocs([first, second], 'test', read);
    expect(conn.credentials).toEqual({ kind: 'token', token: 'first' });
  });

  it.each([
    { name: 'no current context', doc: { dir: '/', doc: {} }, error: 'test: no current-context' },
    {
      name: 'unknown user',
      doc: { ...kubeconfig({}), doc: { ...kubeconfig({}).doc, users: [] } },
      error: 'test: user "u" not found',
    },
    {
      name: 'missing certificate file',
      doc: kubeconfig({ 'client-certificate': 'nope.crt', 'client-key': 'client.key' }),
      error: 'client-certificate /etc/k/nope.crt: ENOENT',
    },
    {
      name: 'certificate without key',
      doc: kubeconfig({ 'client-certificate-data': b64('C') }),
      error: 'needs both client-certificate and client-key',
    },
    {
      name: 'auth-provider',
      doc: kubeconfig({ 'auth-provider': { name: 'oidc' } }),
      error: 'auth-provider is not supported',
    },
    {
      name: 'groups without a user to act as',
      doc: kubeconfig({ token: 't', 'as-groups': ['sre'] }),
      error: 'need "as"',
    },
    {
      name: 'proxy-url',
      doc: kubeconfig({}, { 'proxy-url': 'http://proxy:3128' }),
      error: 'proxy-url is not supported',
    },
  ])('refuses $name with a message that says what to fix', ({ doc, error }) => {
    expect(() => connectionFromDocs([doc as KubeConfigDoc], 'test', read)).toThrow(error);
  });
});

describe('inClusterConnection', () => {
  it('uses the ServiceAccount token file (re-read as it rotates), CA and namespace', () => {
    const conn = inClusterConnection(
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      '/sa',
      read,
    );
    expect({ ...conn, ca: conn.ca?.toString() }).toEqual({
      server: 'https://[fd00::1]:443',
      ca: 'SA-CA',
      credentials: { kind: 'token-file', path: '/sa/token' },
      namespace: 'nemokeys-system',
      source: 'in-cluster ServiceAccount',
    });
  });
});
