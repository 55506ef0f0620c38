import { describe, expect, it } from 'vitest';
import { RECORD_DATA_KEY } from '../../api/constants.ts';
import { FakeCluster, reconcilerOverFake } from './fake-writer.ts';
import { NS, T0, apiKey, team, testKeys } from './testing.ts';

// Tenancy (docs/design.md §9): spec.team names a Team in the ApiKey's own namespace, never another one. The
// integration test (test/roles.test.ts) runs an operator that watches one namespace, so this glue test is
// where a cluster-wide cache holding a same-named, wider Team elsewhere is shown to be ignored.

function setup() {
  const cluster = new FakeCluster();
  const reconciler = reconcilerOverFake(cluster, {
    clock: { now: () => T0 },
    audit: () => {},
    generateKey: testKeys(3),
    monotonicNow: () => 0,
  });
  return { cluster, reconcile: () => reconciler.reconcile(`${NS}/checkout`) };
}

const elsewhere = (t: ReturnType<typeof team>) => ({ ...t, metadata: { ...t.metadata, namespace: 'other-tenant' } });

describe('an ApiKey inherits only a Team of its own namespace', () => {
  it('a same-named Team in another namespace is not found: nothing is issued', async () => {
    const w = setup();
    w.cluster.apiKeys.put(apiKey({ team: 'wide' }));
    w.cluster.teams.put(elsewhere(team({ allowedModels: ['*'] }, 'wide')));
    await w.reconcile();
    const status = w.cluster.apiKeys.get(NS, 'checkout')!.status!;
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'TeamNotFound',
    });
    expect(w.cluster.secrets.list()).toEqual([]);
    expect(w.cluster.records.list()).toEqual([]);
  });

  it("with Teams of that name in both namespaces, the record carries the own namespace's scopes", async () => {
    const w = setup();
    w.cluster.apiKeys.put(apiKey({ team: 'wide' }));
    w.cluster.teams.put(elsewhere(team({ allowedModels: ['*'] }, 'wide')));
    w.cluster.teams.put(team({ allowedModels: ['gpt-4o-mini'] }, 'wide'));
    await w.reconcile();
    const [rec] = w.cluster.records.list();
    const scopes = JSON.parse(Buffer.from(rec!.data![RECORD_DATA_KEY]!, 'base64').toString()).scopes;
    expect(scopes.models).toEqual(['gpt-4o-mini']);
  });
});
