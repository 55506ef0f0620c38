// The ApiKey/Team controllers against the real API server: issue, scopes, revocation, lost Secret,
// deletion, idempotency, and that the plaintext never leaves the workload Secret.
import { execFileSync } from 'node:child_process';
import { CoreV1Api, CustomObjectsApi, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { API_VERSION, FINALIZER, GROUP, KINDS, LABELS, RECORD_DATA_KEY, VERSION } from '../api/constants.ts';
import { parseKey, verifyKey } from '../api/keyformat.ts';
import { parseKeyRecord, type KeyRecord } from '../api/record.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster } from './support/cluster.ts';
import { eventually, startTestOperator, type TestOperator } from './support/operator.ts';
import { PATCH, patchObject, readObject } from '../kube/apply.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';
import type { ResourceType } from '../kube/resources.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `op-${RUN}`;
const RECORDS = `op-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const TEAM = { group: GROUP, version: VERSION, plural: KINDS.team.plural };
const TEAMS: ResourceType = { ...TEAM, namespaced: true };

describe.skipIf(!hasCluster())('operator controllers on a real API server', () => {
  let op: TestOperator;
  const kc = () => adminKubeConfig();
  const core = () => kc().makeApiClient(CoreV1Api);
  const custom = () => kc().makeApiClient(CustomObjectsApi);
  const getKey = async (name: string) =>
    (await custom().getNamespacedCustomObject({ ...AK, namespace: NS, name })) as {
      metadata: { resourceVersion: string; finalizers?: string[] };
      status?: ApiKeyStatus;
    };
  const createKey = (name: string, spec: Record<string, unknown>) =>
    custom().createNamespacedCustomObject({
      ...AK,
      namespace: NS,
      body: { apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name }, spec },
    });
  const createTeam = (name: string, spec: Record<string, unknown>) =>
    custom().createNamespacedCustomObject({
      ...TEAM,
      namespace: NS,
      body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name }, spec },
    });
  const ready = (s: ApiKeyStatus | undefined) => s?.conditions?.find((c) => c.type === 'Ready');
  const waitReady = (name: string, reason?: string) =>
    eventually(
      async () => {
        const k = await getKey(name);
        const r = ready(k.status);
        return (reason ? r?.reason === reason : r?.status === 'True') && k.status?.currentKeyId ? k : undefined;
      },
      30_000,
      `ApiKey ${name} Ready${reason ? ` (${reason})` : ''}`,
    );
  const records = async () =>
    (await core().listNamespacedSecret({ namespace: RECORDS, labelSelector: `${LABELS.record}=true` })).items;
  const recordOf = async (keyId: string): Promise<KeyRecord | undefined> => {
    const s = (await records()).find((r) => r.metadata?.name === `nemokeys-key-${keyId}`);
    const p = s && parseKeyRecord(Buffer.from(s.data![RECORD_DATA_KEY]!, 'base64').toString());
    return p?.ok ? p.record : undefined;
  };
  const plaintextOf = (s: V1Secret, dataKey = 'api-key') => Buffer.from(s.data![dataKey]!, 'base64').toString();
  const events = async () => (await core().listNamespacedEvent({ namespace: NS })).items;
  const reconciles = async () =>
    (await op.metricsText())
      .split('\n')
      .filter((l) => l.startsWith('nemokeys_operator_reconcile_total{controller="apikey"'))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);

  beforeAll(async () => {
    op = await startTestOperator({ recordsNamespace: RECORDS });
    await core().createNamespace({ body: { metadata: { name: NS } } });
    await createTeam('payments', {
      allowedModels: ['gpt-4o', 'gpt-4o-mini'],
      allowedEndpoints: ['/chat/completions', '/embeddings'],
    });
  });
  afterAll(async () => {
    await op?.stop();
  });

  it('Team + ApiKey become Ready: well-formed key in the Secret, its hash in the record, status and printer columns filled', async () => {
    await createKey('checkout', {
      team: 'payments',
      environment: 'prod',
      allowedModels: ['gpt-4o'],
      expiration: '90d',
    });
    const k = await waitReady('checkout');
    const secret = await core().readNamespacedSecret({ namespace: NS, name: 'checkout' });
    const key = plaintextOf(secret);
    const parsed = parseKey(key);
    expect(parsed).toMatchObject({ ok: true, environment: 'prod', keyId: k.status!.currentKeyId });
    expect(secret.metadata?.annotations?.[`${GROUP}/key-id`]).toBe(k.status!.currentKeyId);
    expect(secret.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ApiKey', name: 'checkout', controller: true, blockOwnerDeletion: true }),
    ]);
    const rec = await eventually(() => recordOf(k.status!.currentKeyId!), 10_000, 'record');
    expect(verifyKey(key, rec.hash)).toBe(true);
    expect(rec).toMatchObject({
      state: 'Active',
      team: 'payments',
      scopes: { models: ['gpt-4o'], endpoints: ['/chat/completions', '/embeddings'] },
    });
    expect(k.metadata.finalizers).toContain(FINALIZER);
    expect(k.status).toMatchObject({
      secretName: 'checkout',
      observedGeneration: 1,
      keys: [{ state: 'Active', hint: key.slice(-4) }],
    });
    expect(Date.parse(k.status!.expiresAt!) - Date.parse(k.status!.keys![0]!.createdAt)).toBe(90 * 86_400_000);
    // Team status
    const team = await eventually(
      async () => {
        const t = (await custom().getNamespacedCustomObject({ ...TEAM, namespace: NS, name: 'payments' })) as {
          status?: { keys?: number; conditions?: { type: string; status: string }[] };
        };
        return t.status?.keys === 1 ? t : undefined;
      },
      10_000,
      'team status',
    );
    expect(team.status!.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True' }));
    // kubectl get apikeys: TEAM READY KEY ID EXPIRES LAST USED REQUESTS AGE
    const out = execFileSync(
      clusterKubectl(),
      ['--kubeconfig', clusterKubeconfig(), 'get', 'apikeys', '-n', NS, 'checkout'],
      { encoding: 'utf8' },
    );
    const [header, row] = out.trim().split('\n');
    expect(header).toMatch(/TEAM\s+READY\s+KEY ID\s+EXPIRES\s+LAST USED\s+REQUESTS\s+AGE/);
    expect(row).toContain('payments');
    expect(row).toContain('True');
    expect(row).toContain(k.status!.currentKeyId!);
    expect(row).toContain(k.status!.expiresAt!.slice(0, 10));
  });

  it('three resyncs of a Ready ApiKey change no resourceVersion', async () => {
    const k = await waitReady('checkout');
    await new Promise((r) => setTimeout(r, 1500)); // let in-flight follow-ups settle
    const before = {
      key: (await getKey('checkout')).metadata.resourceVersion,
      secret: (await core().readNamespacedSecret({ namespace: NS, name: 'checkout' })).metadata?.resourceVersion,
      records: (await records()).map((r) => `${r.metadata?.name}@${r.metadata?.resourceVersion}`).sort(),
    };
    for (let i = 0; i < 3; i++) {
      const n = await reconciles();
      op.enqueue('apikey', `${NS}/checkout`);
      await eventually(async () => (await reconciles()) > n, 10_000, 'a reconcile');
    }
    const after = {
      key: (await getKey('checkout')).metadata.resourceVersion,
      secret: (await core().readNamespacedSecret({ namespace: NS, name: 'checkout' })).metadata?.resourceVersion,
      records: (await records()).map((r) => `${r.metadata?.name}@${r.metadata?.resourceVersion}`).sort(),
    };
    expect(after).toEqual(before);
    expect(k.status?.currentKeyId).toBeDefined();
  });

  it("a Team's status writes reconcile none of its keys; a spec edit reconciles each of them", async () => {
    // Before: every Team event re-reconciled all of its keys, and each new key changes the Team's key
    // count — adding one key to a Team of 10 000 cost 10 000 reconciles.
    const kube = kubeClientFor(kc());
    const team = { namespace: NS, name: 'quiet' };
    const teamKeys = () => [`${NS}/quiet-a`, `${NS}/quiet-b`].map((k) => op.reconciles('apikey', k));
    const getTeam = () => readObject<{ status?: { keys?: number } }>(kube, TEAMS, NS, 'quiet');
    await createTeam('quiet', { allowedModels: ['gpt-4o'] });
    await createKey('quiet-a', { team: 'quiet' });
    await createKey('quiet-b', { team: 'quiet' });
    await waitReady('quiet-a');
    await waitReady('quiet-b');
    await eventually(async () => (await getTeam())?.status?.keys === 2, 10_000, 'the Team counting 2 keys');
    await new Promise((r) => setTimeout(r, 1500)); // let in-flight follow-ups settle
    const before = teamKeys();
    const teamReconciles = op.reconciles('team', `${NS}/quiet`);

    // A wrong count written to status: the Team reconciler writes 2 back — two status-only events.
    await patchObject(
      kube,
      TEAMS,
      { ...team, subresource: 'status' },
      { status: { keys: 7 } },
      {
        contentType: PATCH.merge,
      },
    );
    await eventually(
      async () => op.reconciles('team', `${NS}/quiet`) > teamReconciles && (await getTeam())?.status?.keys === 2,
      10_000,
      'the Team reconciler correcting its key count',
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(teamKeys()).toEqual(before);

    await patchObject(
      kube,
      TEAMS,
      team,
      { spec: { allowedModels: ['gpt-4o', 'gpt-4o-mini'] } },
      {
        contentType: PATCH.merge,
      },
    );
    await eventually(
      async () => teamKeys().every((n, i) => n > before[i]!),
      10_000,
      'both keys of the Team reconciled after its spec changed',
    );
  });

  it('a missing Team → TeamNotFound, fixed as soon as the Team appears', async () => {
    await createKey('orphan', { team: 'later' });
    await eventually(
      async () => ready((await getKey('orphan')).status)?.reason === 'TeamNotFound',
      20_000,
      'TeamNotFound',
    );
    const k = await getKey('orphan');
    expect(ready(k.status)!.message).toMatch(/Team "later" not found/);
    expect(k.status?.currentKeyId).toBeUndefined();
    await createTeam('later', { allowedModels: ['*'] });
    await waitReady('orphan');
  });

  it('models outside the team: only the intersection, a condition and an Event naming what was refused', async () => {
    await createKey('greedy', { team: 'payments', allowedModels: ['gpt-4o', 'o3-pro'] });
    const k = await waitReady('greedy', 'ScopesRestricted');
    expect(ready(k.status)!.message).toMatch(/does not allow models o3-pro/);
    expect((await recordOf(k.status!.currentKeyId!))!.scopes.models).toEqual(['gpt-4o']);
    await eventually(
      async () =>
        (await events()).find(
          (e) =>
            e.involvedObject.name === 'greedy' && e.reason === 'ScopesRestricted' && /o3-pro/.test(e.message ?? ''),
        ),
      10_000,
      'ScopesRestricted Event',
    );
  });

  it('no model left after the team intersection → Ready=False, no key issued', async () => {
    await createKey('nothing', { team: 'payments', allowedModels: ['o3-pro'] });
    await eventually(
      async () => ready((await getKey('nothing')).status)?.reason === 'NoAllowedModels',
      20_000,
      'NoAllowedModels',
    );
    const k = await getKey('nothing');
    expect(ready(k.status)).toMatchObject({
      status: 'False',
      message: expect.stringMatching(/none of the requested models \(o3-pro\)/),
    });
    expect(k.status?.currentKeyId).toBeUndefined();
  });

  it('Team maxExpiration caps a Never key (Ready, reason ExpirationCapped, capped expiry in the record)', async () => {
    await createTeam('capped', { allowedModels: ['*'], maxExpiration: '30d' });
    await createKey('forever', { team: 'capped' });
    const k = await waitReady('forever', 'ExpirationCapped');
    expect(ready(k.status)).toMatchObject({
      status: 'True',
      message: expect.stringMatching(/Never exceeds Team "capped" maxExpiration 30d/),
    });
    expect(Date.parse(k.status!.expiresAt!) - Date.parse(k.status!.keys![0]!.createdAt)).toBe(30 * 86_400_000);
    expect((await recordOf(k.status!.currentKeyId!))!.expiresAt).toBe(k.status!.expiresAt);
  });

  it('usage reports of gateway replicas are summed into status', async () => {
    const k = await waitReady('checkout');
    const id = k.status!.currentKeyId!;
    const report = (gateway: string, requests: number, last: string) => ({
      metadata: { name: `usage-${gateway}`, labels: { [LABELS.usage]: 'true' } },
      data: {
        'usage.json': JSON.stringify({
          gateway,
          updatedAt: last,
          keys: { [id]: { requests, credits: requests * 10, lastUsedAt: last } },
        }),
      },
    });
    await core().createNamespacedConfigMap({ namespace: RECORDS, body: report('a', 3, '2030-01-01T00:00:00Z') });
    await core().createNamespacedConfigMap({ namespace: RECORDS, body: report('b', 4, '2030-01-02T00:00:00Z') });
    const s = await eventually(
      async () => {
        const st = (await getKey('checkout')).status;
        return st?.usage?.requests === 7 ? st : undefined;
      },
      20_000,
      'usage in status',
    );
    expect(s).toMatchObject({
      usage: { requests: 7, credits: 70 },
      lastUsedAt: '2030-01-02T00:00:00Z',
      keys: [{ id, requests: 7, credits: 70, lastUsedAt: '2030-01-02T00:00:00Z' }],
    });
  });

  it('spec.revoked revokes every key id in the records at once', async () => {
    await createKey('revoke-me', { team: 'payments' });
    const k = await waitReady('revoke-me');
    await custom().patchNamespacedCustomObject(
      { ...AK, namespace: NS, name: 'revoke-me', body: { spec: { revoked: true } } },
      (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json'),
    );
    await eventually(
      async () => (await recordOf(k.status!.currentKeyId!))?.state === 'Revoked',
      20_000,
      'record revoked',
    );
    const after = await eventually(
      async () => {
        const s = (await getKey('revoke-me')).status;
        return ready(s)?.reason === 'Revoked' ? s : undefined;
      },
      10_000,
      'Revoked status',
    );
    expect(after.keys![0]).toMatchObject({
      state: 'Revoked',
      revokedReason: expect.stringMatching(/spec.revoked set by user:/),
    });
  });

  it('a deleted workload Secret is never re-issued under the same key id: new key id, predecessor Superseded', async () => {
    await createKey('fragile', { team: 'payments', secret: { name: 'fragile-creds', key: 'OPENAI_API_KEY' } });
    const k = await waitReady('fragile');
    const oldId = k.status!.currentKeyId!;
    await core().deleteNamespacedSecret({ namespace: NS, name: 'fragile-creds' });
    const next = await eventually(
      async () => {
        const s = (await getKey('fragile')).status;
        return s?.currentKeyId && s.currentKeyId !== oldId ? s : undefined;
      },
      20_000,
      'new key id',
    );
    expect(next.keys!.map((e) => [e.id, e.state])).toEqual([
      [oldId, 'Superseded'],
      [next.currentKeyId, 'Active'],
    ]);
    const secret = await eventually(
      () => core().readNamespacedSecret({ namespace: NS, name: 'fragile-creds' }),
      10_000,
      'Secret re-created',
    );
    expect(parseKey(plaintextOf(secret, 'OPENAI_API_KEY'))).toMatchObject({ ok: true, keyId: next.currentKeyId });
    expect(await recordOf(oldId)).toMatchObject({ state: 'Superseded' });
    expect(ready(next)!.status).toBe('True');
    expect(next.conditions!.find((c) => c.type === 'Rotating')).toMatchObject({ status: 'True' });
  });

  it('deletion: the finalizer removes the records, then the ApiKey is gone', async () => {
    await createKey('doomed', { team: 'payments' });
    const k = await waitReady('doomed');
    const id = k.status!.currentKeyId!;
    await eventually(() => recordOf(id), 10_000, 'record');
    await custom().deleteNamespacedCustomObject({ ...AK, namespace: NS, name: 'doomed' });
    await eventually(
      async () =>
        (await recordOf(id)) === undefined && !(await records()).some((r) => r.metadata?.name === `nemokeys-key-${id}`),
      20_000,
      'record deleted',
    );
    await eventually(
      async () => {
        try {
          await getKey('doomed');
          return false;
        } catch {
          return true;
        }
      },
      10_000,
      'ApiKey gone',
    );
  });

  it('the plaintext appears nowhere but the workload Secrets: status, Events, records, logs, metrics', async () => {
    const secrets = (
      await core().listNamespacedSecret({ namespace: NS, labelSelector: `${LABELS.workloadSecret}=true` })
    ).items;
    const plaintexts = secrets.flatMap((s) =>
      Object.values(s.data ?? {}).map((b) => Buffer.from(b, 'base64').toString()),
    );
    expect(plaintexts.length).toBeGreaterThanOrEqual(4);
    const secretParts = plaintexts.map((p) => p.slice(p.lastIndexOf('_') + 1, -6)); // the random secret body
    const haystacks = {
      status: JSON.stringify(await custom().listNamespacedCustomObject({ ...AK, namespace: NS })),
      events: JSON.stringify(await events()),
      records: JSON.stringify(
        (await records()).map((r) => [r.metadata, Buffer.from(r.data![RECORD_DATA_KEY]!, 'base64').toString()]),
      ),
      logs: op.logs.join('\n'),
      metrics: await op.metricsText(),
    };
    expect(op.logs.length).toBeGreaterThan(0);
    expect(haystacks.logs).toMatch(/"stream":"audit"/);
    for (const [where, text] of Object.entries(haystacks)) {
      for (const part of secretParts) expect(text.includes(part), `plaintext found in ${where}`).toBe(false);
    }
    expect(haystacks.metrics).toMatch(/nemokeys_operator_keys\{state="Active"\} [1-9]/);
    expect(haystacks.metrics).toMatch(
      /nemokeys_apikey_expiry_timestamp_seconds\{namespace="[^"]+",apikey="checkout",team="payments",key_id="[0-9a-z]{16}"\}/,
    );
  });
});
