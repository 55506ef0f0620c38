import { describe, expect, it } from 'vitest';
import {
  apiserverGoMod,
  etcdGoMod,
  etcdVersionFrom,
  normaliseVersion,
  stagingModules,
  versionLdflags,
} from './gomod.ts';

// Trimmed from k8s.io/kubernetes v1.34.12's go.mod: the shape our generator depends on.
const K8S_GO_MOD = `module k8s.io/kubernetes

go 1.25.0

require (
	go.etcd.io/etcd/client/v3 v3.6.4
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
)

require (
	go.etcd.io/etcd/server/v3 v3.6.4 // indirect
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/kms => ./staging/src/k8s.io/kms
)
`;

describe('go.mod generation', () => {
  it('replaces every staging module with the matching v0 tag', () => {
    expect(stagingModules(K8S_GO_MOD)).toEqual(['k8s.io/api', 'k8s.io/client-go', 'k8s.io/kms']);
    const mod = apiserverGoMod(K8S_GO_MOD, 'v1.34.12');
    expect(mod).toContain('require k8s.io/kubernetes v1.34.12\n');
    expect(mod).toContain('\tk8s.io/client-go => k8s.io/client-go v0.34.12\n');
    expect(mod).toContain('\tk8s.io/kms => k8s.io/kms v0.34.12\n');
    expect(mod).toContain('\ngo 1.25.0\n');
    expect(mod).not.toContain('./staging');
  });

  it('pins etcd to the version Kubernetes itself requires', () => {
    expect(etcdVersionFrom(K8S_GO_MOD)).toBe('v3.6.4');
    expect(etcdGoMod(K8S_GO_MOD, '1.34.12')).toContain('require go.etcd.io/etcd/server/v3 v3.6.4\n');
  });

  it('rejects malformed input instead of generating a broken module', () => {
    expect(() => normaliseVersion('1.34')).toThrow();
    expect(() => stagingModules('module x\n')).toThrow(/staging/);
    expect(() => etcdVersionFrom('module x\n')).toThrow(/etcd/);
  });

  it('stamps the release into both version packages', () => {
    const flags = versionLdflags('1.34.12');
    expect(flags).toContain('-X k8s.io/component-base/version.gitVersion=v1.34.12');
    expect(flags).toContain('-X k8s.io/client-go/pkg/version.gitMinor=34');
  });
});
