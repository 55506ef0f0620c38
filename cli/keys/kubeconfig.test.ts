import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeTarget } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'nemokeys-kc-'));
function kubeconfig(
  file: string,
  contexts: { name: string; namespace?: string; server: string }[],
  current: string,
): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': current,
      clusters: contexts.map((c) => ({ name: c.name, cluster: { server: c.server } })),
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: contexts.map((c) => ({
        name: c.name,
        context: { cluster: c.name, user: 'u', ...(c.namespace ? { namespace: c.namespace } : {}) },
      })),
    }),
  );
  return path;
}
const two = kubeconfig(
  'two.yaml',
  [
    { name: 'dev', namespace: 'team-a', server: 'https://dev.example:6443' },
    { name: 'prod', server: 'https://prod.example:6443' },
  ],
  'dev',
);
const noHome = { HOME: join(dir, 'no-home') };

describe('loadKubeTarget', () => {
  it('uses --kubeconfig and the context namespace', () => {
    expect(loadKubeTarget({ kubeconfig: two }, noHome)).toMatchObject({
      source: `--kubeconfig ${two}`,
      context: 'dev',
      server: 'https://dev.example:6443',
      namespace: 'team-a',
    });
  });
  it('--context switches cluster; -n beats the context; no namespace anywhere means default', () => {
    expect(loadKubeTarget({ kubeconfig: two, context: 'prod' }, noHome)).toMatchObject({
      context: 'prod',
      namespace: 'default',
      server: 'https://prod.example:6443',
    });
    expect(loadKubeTarget({ kubeconfig: two, namespace: 'x' }, noHome).namespace).toBe('x');
  });
  it('reads $KUBECONFIG when there is no flag', () => {
    expect(loadKubeTarget({}, { ...noHome, KUBECONFIG: two })).toMatchObject({
      source: `KUBECONFIG ${two}`,
      context: 'dev',
    });
  });
  it.each([
    ['missing --kubeconfig file', { kubeconfig: join(dir, 'nope') }, noHome, /--kubeconfig .*nope: file not found/],
    [
      'unknown context lists the known ones',
      { kubeconfig: two, context: 'stage' },
      noHome,
      /context "stage" is not in .*Contexts there: dev, prod/,
    ],
    [
      'KUBECONFIG naming no file',
      {},
      { ...noHome, KUBECONFIG: join(dir, 'nope') },
      /KUBECONFIG=.*none of these files exist/,
    ],
    ['nothing at all', {}, noHome, /no Kubernetes configuration found: pass --kubeconfig PATH, set KUBECONFIG/],
  ])('%s is a clear error', (_l, flags, env, re) => expect(() => loadKubeTarget(flags, env)).toThrow(re));
});
