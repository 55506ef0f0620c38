import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { classifyKubeError, explainFailure, unknownApiKeyMessage, type KubeFailure } from './errors.ts';

const status = (reason: string, message: string, details: object = {}) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, details });
const apiErr = (code: number, body: string) => new ApiException(code, 'Unknown API Status Code!', body, {});
const fetchFailed = (code: string, message: string) =>
  Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(message), { code }) });

describe('classifyKubeError', () => {
  it.each<[string, unknown, KubeFailure]>([
    [
      'object not found',
      apiErr(
        404,
        status('NotFound', 'apikeys.keys.nemorouter.io "x" not found', {
          name: 'x',
          group: 'keys.nemorouter.io',
          kind: 'apikeys',
        }),
      ),
      { kind: 'not-found', resource: 'apikeys', name: 'x' },
    ],
    [
      'namespace not found on create',
      apiErr(404, status('NotFound', 'namespaces "nope" not found', { name: 'nope', kind: 'namespaces' })),
      { kind: 'not-found', resource: 'namespaces', name: 'nope' },
    ],
    ['CRD not installed: bare 404', apiErr(404, '404 page not found\n'), { kind: 'crd-missing' }],
    ['CRD not installed: empty body', apiErr(404, ''), { kind: 'crd-missing' }],
    [
      'forbidden',
      apiErr(403, status('Forbidden', 'User "u" cannot list resource "apikeys"')),
      { kind: 'forbidden', message: 'User "u" cannot list resource "apikeys"' },
    ],
    ['unauthorized', apiErr(401, status('Unauthorized', 'Unauthorized')), { kind: 'unauthorized' }],
    ['already exists', apiErr(409, status('AlreadyExists', 'exists')), { kind: 'already-exists' }],
    ['stale resourceVersion', apiErr(409, status('Conflict', 'the object has been modified')), { kind: 'conflict' }],
    [
      'invalid with causes',
      apiErr(422, status('Invalid', 'bad', { causes: [{ field: 'metadata.name', message: 'must be lowercase' }] })),
      { kind: 'invalid', message: 'metadata.name: must be lowercase' },
    ],
    [
      'server error',
      apiErr(500, status('InternalError', 'etcd down')),
      { kind: 'other', message: 'HTTP 500: etcd down' },
    ],
    [
      'connection refused',
      fetchFailed('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'),
      { kind: 'unreachable', reason: 'connect ECONNREFUSED 127.0.0.1:1' },
    ],
    [
      'dns',
      fetchFailed('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere'),
      { kind: 'unreachable', reason: 'getaddrinfo ENOTFOUND nowhere' },
    ],
    [
      'tls',
      fetchFailed('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'),
      { kind: 'tls', reason: 'self-signed certificate' },
    ],
    [
      'blocked port: cause without a code',
      Object.assign(new TypeError('fetch failed'), { cause: new Error('bad port') }),
      { kind: 'unreachable', reason: 'bad port' },
    ],
    [
      'happy eyeballs: AggregateError of attempts',
      Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(
          new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:6443'), { code: 'ECONNREFUSED' })], ''),
          { code: 'ECONNREFUSED' },
        ),
      }),
      { kind: 'unreachable', reason: 'connect ECONNREFUSED ::1:6443' },
    ],
    ['anything else', new Error('boom'), { kind: 'other', message: 'boom' }],
  ])('%s', (_l, err, failure) => expect(classifyKubeError(err)).toEqual(failure));
});

describe('explainFailure', () => {
  const target = { source: 'KUBECONFIG=/tmp/kc', context: 'dev', server: 'https://127.0.0.1:6443' };
  const call = { verb: 'list' as const, namespace: 'shop' };

  it('says to install the CRDs when the resource is not served', () => {
    const text = explainFailure({ kind: 'crd-missing' }, call, target);
    expect(text).toContain('CRDs are not installed');
    expect(text).toContain('nemokeys crds | kubectl apply --server-side -f -');
    expect(text).toContain('Helm chart');
  });
  it('names the missing verb, resource and namespace on 403', () => {
    const text = explainFailure(
      { kind: 'forbidden', message: 'm' },
      { verb: 'patch', namespace: 'shop', name: 'a' },
      target,
    );
    expect(text).toContain('you may not patch apikeys.keys.nemorouter.io in namespace "shop"');
    expect(text).toContain('verb "patch" on resource "apikeys" in API group "keys.nemorouter.io"');
  });
  it.each([
    [
      'patch',
      'You need role "nemokeys-key-editor" to create, edit, rotate or revoke ApiKeys',
      '"edit" role includes it',
    ],
    ['create', 'You need role "nemokeys-key-editor"', '"edit" role includes it'],
    ['list', 'You need role "nemokeys-key-viewer" to see ApiKeys and their usage', '"view" role includes it'],
    ['get', 'You need role "nemokeys-key-viewer"', '"view" role includes it'],
  ] as const)('names the chart role that grants %s on 403', (verb, role, builtIn) => {
    const text = explainFailure({ kind: 'forbidden', message: 'm' }, { verb, namespace: 'shop', name: 'a' }, target);
    expect(text).toContain(role);
    expect(text).toContain(builtIn);
    expect(text).toContain('RoleBinding to it');
  });
  it('asks for a ClusterRole for -A', () => {
    expect(explainFailure({ kind: 'forbidden', message: '' }, { verb: 'list' }, target)).toContain('ClusterRole');
  });
  it('names the kubeconfig, context and server when the cluster is unreachable', () => {
    const text = explainFailure({ kind: 'unreachable', reason: 'connect ECONNREFUSED' }, call, target);
    expect(text).toContain('https://127.0.0.1:6443 (context "dev" from KUBECONFIG=/tmp/kc)');
    expect(text).toContain('--context');
  });
  it('says which namespace is missing', () => {
    expect(
      explainFailure(
        { kind: 'not-found', resource: 'namespaces', name: 'nope' },
        { verb: 'create', namespace: 'nope' },
        target,
      ),
    ).toContain('namespace "nope" not found');
  });
  it.each<KubeFailure>([
    { kind: 'unauthorized' },
    { kind: 'tls', reason: 'r' },
    { kind: 'already-exists' },
    { kind: 'conflict' },
    { kind: 'invalid', message: 'm' },
    { kind: 'other', message: 'm' },
    { kind: 'not-found', resource: 'apikeys', name: 'a' },
  ])('has a one-line message for %j', (f) => {
    const text = explainFailure(f, call, target);
    expect(text.length).toBeGreaterThan(20);
    expect(text).not.toContain('\n');
  });
});

describe('unknownApiKeyMessage', () => {
  it.each<[string, string[] | undefined, string[], string]>([
    [
      'names the ones that exist, sorted',
      ['b', 'a'],
      [],
      'ApiKey "x" not found in namespace "ns". ApiKeys in "ns": a, b.',
    ],
    [
      'points at another namespace',
      [],
      ['other'],
      'ApiKey "x" not found in namespace "ns". It exists in namespace "other": add -n other. There are no ApiKeys in "ns"; see every namespace with "keys list -A".',
    ],
    ['says nothing it could not check', undefined, [], 'ApiKey "x" not found in namespace "ns".'],
  ])('%s', (_l, here, elsewhere, text) => expect(unknownApiKeyMessage('x', 'ns', here, elsewhere)).toBe(text));

  it('caps a long list', () => {
    const names = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const text = unknownApiKeyMessage('x', 'ns', names, []);
    expect(text).toContain('k19, … (25 in all).');
    expect(text).not.toContain('k20');
  });
});
