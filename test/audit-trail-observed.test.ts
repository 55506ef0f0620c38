// The audit trail where no audit webhook reaches the operator (managed clusters, `nemokeys dev` without
// one): its observed-change controller is the only recorder of people's changes. Checked on the wire —
// a watch on the trail ConfigMaps sees every write the operator makes to them:
// - a new key's trail is written once, already naming the key id issued for it (create without a read);
// - a create recorded before its key could be issued gets that key id filled in when it is;
// - an edit is one more write, and nothing is written for status-only changes.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';
import { resourcePath, CONFIG_MAPS } from '../kube/resources.ts';
import { ENTRIES_KEY, TRAIL_LABEL, trailName } from '../operator/audit/trail-store.ts';
import { parseEntries, type TrailEntry } from '../operator/audit/trail.ts';
import type { RunningOperator } from '../operator/main.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster } from './support/cluster.ts';
import { createTeam, eventually, startShippedOperator } from './support/operator.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `observed-keys-${RUN}`;
const RECORDS = `observed-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };

interface TrailWrite {
  type: string;
  entries: TrailEntry[];
}

describe.skipIf(!hasCluster())('audit trail without an audit webhook (observed changes only)', () => {
  let kc: KubeConfig;
  let op: RunningOperator | undefined;
  let stopWatch: AbortController | undefined;
  /** Trail name → every write the API server reported for it, in order. */
  const writes = new Map<string, TrailWrite[]>();
  const trailOf = (key: string) => writes.get(trailName('ApiKey', key)) ?? [];
  const custom = () => kc.makeApiClient(CustomObjectsApi);
  const status = async (name: string) =>
    (
      (await custom().getNamespacedCustomObject({ ...AK, namespace: NS, name })) as {
        status?: { currentKeyId?: string };
      }
    ).status;
  const createKey = (name: string, spec: object = {}) =>
    custom().createNamespacedCustomObject({
      ...AK,
      namespace: NS,
      body: { apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name }, spec: { team: 'payments', ...spec } },
    });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const startOperator = async (observedGraceMs: number) => {
    // No `listen`: no audit receiver.
    op = await startShippedOperator({
      kubeconfig: clusterKubeconfig(),
      recordsNamespace: RECORDS,
      watchNamespace: NS,
      audit: { observedGraceMs },
    });
  };

  beforeAll(async () => {
    kc = adminKubeConfig();
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    await createTeam(kc, NS, 'payments');
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: RECORDS } } });
    stopWatch = await kubeClientFor(kc).watch(
      resourcePath(CONFIG_MAPS, { namespace: NS }),
      { labelSelector: TRAIL_LABEL },
      (type, obj) => {
        const cm = obj as { metadata?: { name?: string }; data?: Record<string, string> };
        const name = cm.metadata?.name ?? '';
        writes.set(name, [
          ...(writes.get(name) ?? []),
          { type, entries: parseEntries(cm.data?.[ENTRIES_KEY]).entries },
        ]);
      },
      () => {},
    );
    await startOperator(300);
  });
  afterAll(async () => {
    stopWatch?.abort();
    await op?.stop();
  });

  it("a new key's trail is created once, naming the key id issued for it", async () => {
    await createKey('checkout');
    const keyId = await eventually(async () => (await status('checkout'))?.currentKeyId, 30_000, 'key issued');
    await eventually(async () => trailOf('checkout').length > 0, 10_000, 'trail written');
    await sleep(1500); // longer than the grace period: any later write would have happened
    const [only, ...more] = trailOf('checkout');
    expect(more).toEqual([]);
    expect(only?.type).toBe('ADDED');
    expect(only?.entries).toEqual([
      expect.objectContaining({ action: 'create', keyId, actor: expect.stringContaining('no audit event') }),
    ]);

    // An edit: one more write with one more entry; the status the operator writes for it adds nothing.
    await custom().patchNamespacedCustomObject(
      { ...AK, namespace: NS, name: 'checkout', body: { spec: { rateLimit: { requestsPerMinute: 60 } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually(async () => trailOf('checkout').length === 2, 10_000, 'edit recorded');
    await sleep(1500);
    expect(trailOf('checkout').map((w) => w.type)).toEqual(['ADDED', 'MODIFIED']);
    expect(trailOf('checkout')[1]!.entries.map((e) => [e.action, e.fields])).toEqual([
      ['create', ['spec.expiration', 'spec.revoked', 'spec.team']],
      ['edit', ['spec.rateLimit.requestsPerMinute']],
    ]);
  });

  it('a create recorded before its key could be issued gets the key id filled in once it is', async () => {
    // Recorded at once (grace 0), while the key controller is still writing the key's five objects.
    await op?.stop();
    await startOperator(0);
    // The controllers race (one trail write against the key's five writes): a key whose key id was
    // already issued when its create was recorded proves nothing here, so try another.
    for (let attempt = 0; attempt < 3; attempt++) {
      const name = `billing-${attempt}`;
      await createKey(name);
      const keyId = await eventually(async () => (await status(name))?.currentKeyId, 30_000, 'key issued');
      await eventually(async () => trailOf(name).at(-1)?.entries[0]?.keyId, 10_000, 'key id named');
      await sleep(1500);
      const seen = trailOf(name);
      if (seen[0]!.entries[0]!.keyId !== undefined) continue;
      expect(seen.map((w) => w.type)).toEqual(['ADDED', 'MODIFIED']);
      expect(seen[1]!.entries).toEqual([expect.objectContaining({ action: 'create', keyId })]);
      return;
    }
    throw new Error('every create was recorded after its key was issued: the fill was never needed');
  });
});
