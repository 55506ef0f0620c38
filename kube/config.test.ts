import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKubeConfig, resolveKubeConfigSource, type KubeConfigEnv } from './config.ts';

const env = (files: string[], vars: Record<string, string> = {}): KubeConfigEnv => ({
  env: vars,
  exists: (p) => files.includes(p),
  home: '/home/u',
  serviceAccountDir: '/sa',
});

describe('resolveKubeConfigSource', () => {
  it.each([
    {
      name: 'flag wins',
      flag: '/k',
      e: env(['/k', '/home/u/.kube/config'], { KUBECONFIG: '/env' }),
      want: { kind: 'flag', path: '/k' },
    },
    {
      name: 'KUBECONFIG next, missing entries skipped',
      flag: undefined,
      e: env(['/b', '/home/u/.kube/config'], { KUBECONFIG: '/a:/b' }),
      want: { kind: 'env', paths: ['/b'] },
    },
    {
      name: 'in-cluster before ~/.kube/config',
      flag: undefined,
      e: env(['/sa/token', '/home/u/.kube/config'], { KUBERNETES_SERVICE_HOST: '10.0.0.1' }),
      want: { kind: 'in-cluster' },
    },
    {
      name: 'service host without token is not in-cluster',
      flag: undefined,
      e: env(['/home/u/.kube/config'], { KUBERNETES_SERVICE_HOST: '10.0.0.1' }),
      want: { kind: 'home', path: '/home/u/.kube/config' },
    },
    {
      name: 'home config last',
      flag: undefined,
      e: env(['/home/u/.kube/config']),
      want: { kind: 'home', path: '/home/u/.kube/config' },
    },
  ])('$name', ({ flag, e, want }) => {
    expect(resolveKubeConfigSource(flag, e)).toEqual(want);
  });

  it.each([
    { name: 'missing flag file', flag: '/nope', e: env([]), error: /--kubeconfig \/nope: file not found/ },
    {
      name: 'KUBECONFIG with no existing file',
      flag: undefined,
      e: env([], { KUBECONFIG: '/a:/b' }),
      error: /none of these files exist/,
    },
    {
      name: 'nothing at all',
      flag: undefined,
      e: env([]),
      error: /no Kubernetes configuration found: pass --kubeconfig/,
    },
  ])('fails clearly: $name', ({ flag, e, error }) => {
    expect(() => resolveKubeConfigSource(flag, e)).toThrow(error);
  });
});

describe('loadKubeConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nemokeys-kc-'));
  const write = (name: string, server: string, current = 'ctx') => {
    const path = join(dir, name);
    writeFileSync(
      path,
      `apiVersion: v1
kind: Config
clusters: [{name: c-${name}, cluster: {server: "${server}"}}]
users: [{name: u-${name}, user: {token: t}}]
contexts: [{name: ctx-${name}, context: {cluster: c-${name}, user: u-${name}}}]
current-context: "${current === 'ctx' ? `ctx-${name}` : current}"
`,
    );
    return path;
  };

  it('loads the flag file and merges KUBECONFIG lists with the first current-context winning', () => {
    const a = write('a', 'https://a.example:6443');
    const b = write('b', 'https://b.example:6443');
    expect(loadKubeConfig({ kubeconfig: a }).getCurrentCluster()?.server).toBe('https://a.example:6443');
    const merged = loadKubeConfig({ env: { ...env([a, b], { KUBECONFIG: `${a}:${b}` }), exists: () => true } });
    expect(merged.getCurrentCluster()?.server).toBe('https://a.example:6443');
    expect(
      merged
        .getClusters()
        .map((c) => c.server)
        .sort(),
    ).toEqual(['https://a.example:6443', 'https://b.example:6443']);
  });

  it('rejects a config without a usable current context', () => {
    const none = write('none', 'https://x.example', '');
    expect(() => loadKubeConfig({ kubeconfig: none })).toThrow(/no current context with a cluster/);
  });
});
