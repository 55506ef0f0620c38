// installCrds (used by `nemokeys controlplane up`, `nemokeys dev` and the tests) returns only when a new
// CRD's storage answers lists: right after Established the API server still answers
// `429 storage is (re)initializing`, which client-node — and so `nemokeys keys list -A` — does not retry.
import { ApiextensionsV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { installCrds } from '../controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster, httpStatusOf } from './support/cluster.ts';

describe.skipIf(!hasCluster())('installCrds', () => {
  const names: string[] = [];
  afterAll(async () => {
    const ext = adminKubeConfig().makeApiClient(ApiextensionsV1Api);
    for (const name of names) await ext.deleteCustomResourceDefinition({ name }).catch(() => {});
  });

  it('a fresh CRD can be listed cluster-wide the moment installCrds returns', async () => {
    // Several fresh CRDs, each listed right away: one lucky fast cache must not hide the race.
    const groups = Array.from({ length: 3 }, () => `t${Math.random().toString(36).slice(2, 8)}.example.com`);
    const yamlText = groups
      .map((group) =>
        stringify({
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name: `widgets.${group}` },
          spec: {
            group,
            scope: 'Namespaced',
            names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
            versions: [
              {
                name: 'v1',
                served: true,
                storage: true,
                schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
              },
            ],
          },
        }),
      )
      .join('---\n');
    names.push(...groups.map((g) => `widgets.${g}`));
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, yamlText);
    const custom = adminKubeConfig().makeApiClient(CustomObjectsApi);
    const statuses = await Promise.all(
      groups.map((group) => httpStatusOf(custom.listClusterCustomObject({ group, version: 'v1', plural: 'widgets' }))),
    );
    expect(statuses).toEqual([200, 200, 200]);
  });
});
