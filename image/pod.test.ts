import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { expandVars, podmanRunArgs, probeUrl, quantityBytes, type PodRunContext } from './pod.ts';

const ctx: PodRunContext = {
  podName: 'op-1',
  namespace: 'ns',
  serviceAccountDir: '/sa',
  apiServer: { host: '127.0.0.1', port: 6443 },
};
const container = (c: Partial<V1Container> = {}): V1Container => ({ name: 'c', image: 'img:1', ...c });
const pod = (c: Partial<V1Container> = {}, p: Partial<V1PodSpec> = {}): V1PodSpec => ({
  containers: [container(c)],
  ...p,
});
const flags = (spec: V1PodSpec, context = ctx) => podmanRunArgs(spec, 'c', context);

describe('podmanRunArgs', () => {
  it('a bare container: name, host network, the ServiceAccount mount and the API server env, image last', () => {
    expect(flags(pod())).toEqual([
      '--name=op-1-c',
      '--network=host',
      '--pull=missing',
      '--volume=/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro',
      '--env=KUBERNETES_SERVICE_HOST=127.0.0.1',
      '--env=KUBERNETES_SERVICE_PORT=6443',
      'img:1',
    ]);
  });

  it.each<[string, Partial<V1Container>, Partial<V1PodSpec>, string[]]>([
    [
      'pod-level user and group',
      {},
      { securityContext: { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true } },
      ['--user=1000:1000'],
    ],
    [
      'the container overrides the pod',
      { securityContext: { runAsUser: 2000 } },
      { securityContext: { runAsUser: 1000, runAsGroup: 3 } },
      ['--user=2000:3'],
    ],
    [
      "read-only root without podman's extra tmpfs",
      { securityContext: { readOnlyRootFilesystem: true } },
      {},
      ['--read-only', '--read-only-tmpfs=false'],
    ],
    [
      'no privilege escalation',
      { securityContext: { allowPrivilegeEscalation: false } },
      {},
      ['--security-opt=no-new-privileges'],
    ],
    [
      'capabilities',
      { securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } },
      {},
      ['--cap-drop=ALL', '--cap-add=NET_BIND_SERVICE'],
    ],
    [
      'seccomp Unconfined',
      { securityContext: { seccompProfile: { type: 'Unconfined' } } },
      {},
      ['--security-opt=seccomp=unconfined'],
    ],
    [
      'memory and cpu limits',
      { resources: { limits: { memory: '512Mi', cpu: '500m' } } },
      {},
      ['--memory=536870912', '--cpus=0.5'],
    ],
    ['grace period', {}, { terminationGracePeriodSeconds: 20 }, ['--stop-timeout=20']],
    ['pull policy Never', { imagePullPolicy: 'Never' }, {}, ['--pull=never']],
    [
      'emptyDir with a size limit',
      { volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }] },
      { volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }] },
      ['--mount=type=tmpfs,destination=/tmp,tmpfs-mode=1777,tmpfs-size=67108864'],
    ],
    [
      'downward-API env',
      {
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        ],
      },
      {},
      ['--env=POD_NAME=op-1', '--env=POD_NAMESPACE=ns'],
    ],
    [
      '$(VAR) in later env values',
      {
        env: [
          { name: 'A', value: 'x' },
          { name: 'B', value: '$(A)-$(NOPE)-$$(A)' },
        ],
      },
      {},
      ['--env=A=x', '--env=B=x-$(NOPE)-$(A)'],
    ],
  ])('%s', (_what, c, p, expected) => {
    const args = flags(pod(c, p));
    for (const f of expected) expect(args).toContain(f);
    expect(args.at(-1)).toBe('img:1');
  });

  it('args follow the image with $(VAR) expanded; command replaces the entrypoint', () => {
    const args = flags(
      pod({ command: ['node', '$(X)'], args: ['gateway', '--redis=$(X)'], env: [{ name: 'X', value: 'v' }] }),
    );
    expect(args).toContain('--entrypoint=["node","v"]');
    expect(args.slice(-3)).toEqual(['img:1', 'gateway', '--redis=v']);
  });

  it('automountServiceAccountToken: false mounts no token and sets no API server env', () => {
    const args = flags(pod({}, { automountServiceAccountToken: false }));
    expect(args.some((a) => a.includes('serviceaccount') || a.includes('KUBERNETES_SERVICE'))).toBe(false);
  });

  it.each<[string, V1PodSpec, RegExp]>([
    ['an unknown container', { containers: [container({ name: 'other' })] }, /no container c \(has other\)/],
    [
      'runAsNonRoot as root',
      pod({ securityContext: { runAsNonRoot: true, runAsUser: 0 } }),
      /runAsNonRoot with runAsUser 0/,
    ],
    [
      'runAsNonRoot with no user to check',
      pod({}, { securityContext: { runAsNonRoot: true } }),
      /needs a numeric runAsUser/,
    ],
    [
      'a hostPath volume',
      pod({ volumeMounts: [{ name: 'h', mountPath: '/h' }] }, { volumes: [{ name: 'h', hostPath: { path: '/' } }] }),
      /only emptyDir/,
    ],
    ['a mount without a volume', pod({ volumeMounts: [{ name: 'x', mountPath: '/x' }] }), /has no volume/],
    [
      'a secretKeyRef',
      pod({ env: [{ name: 'R', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }),
      /only fieldRef/,
    ],
    [
      'an unsupported fieldRef',
      pod({ env: [{ name: 'R', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }] }),
      /status.podIP is not supported/,
    ],
    [
      'a Localhost seccomp profile',
      pod({ securityContext: { seccompProfile: { type: 'Localhost' } } }),
      /Localhost is not supported/,
    ],
  ])('refuses %s instead of dropping it', (_what, spec, error) => {
    expect(() => flags(spec)).toThrow(error);
  });
});

describe('probeUrl', () => {
  const c = container({ ports: [{ name: 'health', containerPort: 8081 }] });
  it.each<[string, NonNullable<V1Container['readinessProbe']>, string]>([
    ['a named port', { httpGet: { path: '/readyz', port: 'health' } }, 'http://127.0.0.1:8081/readyz'],
    ['a number', { httpGet: { path: '/healthz', port: 9090 } }, 'http://127.0.0.1:9090/healthz'],
    ['https', { httpGet: { path: '/x', port: 1, scheme: 'HTTPS' } }, 'https://127.0.0.1:1/x'],
  ])('%s', (_what, probe, url) => {
    expect(probeUrl(c, probe).url).toBe(url);
  });
  it('an unknown port name is an error', () => {
    expect(() => probeUrl(c, { httpGet: { path: '/', port: 'nope' } })).toThrow(/probe port nope/);
  });
});

describe('quantityBytes and expandVars', () => {
  it.each([
    ['64Mi', 67108864],
    ['1G', 1e9],
    ['512', 512],
    ['1.5Ki', 1536],
  ])('%s', (q, n) => expect(quantityBytes(q)).toBe(n));
  it('rejects what it cannot read', () => expect(() => quantityBytes('1 GB')).toThrow(/unsupported quantity/));
  it('leaves unknown names and unescapes $$', () => {
    expect(expandVars('$(A)/$(B)/$$(A)/$$', new Map([['A', '1']]))).toBe('1/$(B)/$(A)/$');
  });
});
