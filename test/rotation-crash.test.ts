// Crash safety of a rotation on the real API server. Operator A runs with its writers wrapped by a
// CrashInjector: for ApiKey crash-k, A "dies" right after the k-th write of the rotation (records,
// Secret, Events, status, restart-target patch and its Event; k = 0 … 8). A is stopped, operator B
// (fresh memory, plain writers) takes over the same API server state. Afterwards, for every k:
// exactly one successor, the Secret's key id has a record that verifies it, no usable record outside
// the status lineage, the Events sent once, the restart target rolled exactly once.
import { Writable } from 'node:stream';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { crdYaml } from '../api/crd.ts';
import { ANNOTATIONS, API_VERSION, GROUP, KINDS, LABELS, RECORD_DATA_KEY, VERSION } from '../api/constants.ts';
import { parseKey, verifyKey } from '../api/keyformat.ts';
import { isUsableRecord, parseKeyRecord, type KeyRecord } from '../api/record.ts';
import { patchMetadata } from '../kube/apply.ts';
import { registerControllers } from '../operator/controllers.ts';
import { runOperator, type RunningOperator } from '../operator/main.ts';
import { CrashInjector, type WriteStep } from '../operator/rotation/failure-injection.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster } from './support/cluster.ts';
import { eventually, startTestOperator, type TestOperator } from './support/operator.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `rot-crash-${RUN}`;
const RECORDS = `rot-crash-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
/** A rotation is 8 writes: 2 records, Secret, KeyIssued, KeySuperseded, status, restart patch, its Event. */
const WRITES = 8;
const ROWS = Array.from({ length: WRITES + 1 }, (_, k) => k);
const nameOf = (k: number | 'none') => `crash-${k}`;

describe.skipIf(!hasCluster())('rotation crash safety on a real API server', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const injector = new CrashInjector();
  const logsA: string[] = [];
  let a: RunningOperator | undefined;
  let b: TestOperator | undefined;
  const status = async (name: string) =>
    ((await custom.getNamespacedCustomObject({ ...AK, namespace: NS, name })) as { status?: ApiKeyStatus }).status;
  const secret = (name: string) => core.readNamespacedSecret({ namespace: NS, name });
  const web = (name: string) => apps.readNamespacedDeployment({ namespace: NS, name: `web-${name}` });
  const records = async (name: string): Promise<KeyRecord[]> =>
    (await core.listNamespacedSecret({ namespace: RECORDS, labelSelector: `${LABELS.apiKeyName}=${name}` })).items.map(
      (s) => {
        const p = parseKeyRecord(Buffer.from(s.data![RECORD_DATA_KEY]!, 'base64').toString());
        if (!p.ok) throw new Error(p.error);
        return p.record;
      },
    );
  const before = new Map<string, { keyId: string; generation: number }>();
  let baseline: readonly WriteStep[] = [];

  beforeAll(async () => {
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    for (const ns of [NS, RECORDS]) await core.createNamespace({ body: { metadata: { name: ns } } });
    await custom.createNamespacedCustomObject({
      ...AK,
      plural: KINDS.team.plural,
      namespace: NS,
      body: { apiVersion: API_VERSION, kind: 'Team', metadata: { name: 'payments' }, spec: { allowedModels: ['*'] } },
    });
    a = await runOperator({
      kubeconfig: clusterKubeconfig(),
      recordsNamespace: RECORDS,
      metricsPort: 0,
      healthPort: 0,
      bindAddress: '127.0.0.1',
      logLevel: 'info',
      leaderElection: false,
      leaseNamespace: RECORDS,
      logDestination: new Writable({
        write(chunk, _e, cb) {
          logsA.push(...String(chunk).split('\n').filter(Boolean));
          cb();
        },
      }),
      registerControllers: (ctx) =>
        registerControllers(ctx, {
          wrapWriter: (w) => injector.wrapWriter(w),
          wrapWorkloads: (w) => injector.wrapWorkloads(w, (t) => `${t.namespace}/${t.name.replace(/^web-/, '')}`),
          restartDebounceMs: 300,
        }),
    });
    const names = [...ROWS.map(nameOf), nameOf('none')];
    for (const name of names) {
      await apps.createNamespacedDeployment({
        namespace: NS,
        body: {
          metadata: { name: `web-${name}` },
          spec: {
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name } },
              spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
            },
          },
        },
      });
      await custom.createNamespacedCustomObject({
        ...AK,
        namespace: NS,
        body: {
          apiVersion: API_VERSION,
          kind: 'ApiKey',
          metadata: { name },
          spec: { team: 'payments', rotation: { restartTargets: [{ kind: 'Deployment', name: `web-${name}` }] } },
        },
      });
    }
    for (const name of names) {
      const keyId = await eventually(async () => (await status(name))?.currentKeyId, 60_000, `${name} issued`);
      const d = await eventually(
        async () => {
          const o = await web(name);
          return o.spec?.template.metadata?.annotations?.[ANNOTATIONS.restartedFor] === keyId ? o : undefined;
        },
        30_000,
        `web-${name} annotated`,
      );
      before.set(name, { keyId, generation: d.metadata!.generation! });
    }
    await new Promise((r) => setTimeout(r, 1000)); // let A's follow-up reconciles (no writes) drain before arming
    // Arm every row, then request every rotation at once.
    injector.arm(`${NS}/${nameOf('none')}`, Number.POSITIVE_INFINITY);
    for (const k of ROWS) injector.arm(`${NS}/${nameOf(k)}`, k);
    for (const name of names) {
      await patchMetadata(
        kubeClientFor(kc),
        { apiVersion: API_VERSION, kind: 'ApiKey', namespace: NS, name },
        { annotations: { [ANNOTATIONS.rotate]: 'crash-test' } },
        { fieldManager: 'rotation-test' },
      );
    }
    // The baseline row completes its rotation (all WRITES writes); every other row dies on the way.
    await eventually(
      async () => injector.writes(`${NS}/${nameOf('none')}`).length >= WRITES,
      60_000,
      'baseline rotation',
    );
    await eventually(
      async () => ROWS.every((k) => injector.crashed(`${NS}/${nameOf(k)}`)),
      60_000,
      'every row crashed',
    );
    baseline = [...injector.writes(`${NS}/${nameOf('none')}`)];
    console.info(
      `[rotation-crash] a rotation's writes: ${baseline.map((w) => (w.kind === 'event' ? `event ${w.detail}` : w.kind)).join(' → ')}`,
    );
    await a.stop();
    a = undefined;
    b = await startTestOperator({ recordsNamespace: RECORDS });
  }, 300_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('the baseline rotation made exactly the writes the table crashes after', () => {
    expect(baseline.map((s) => s.kind).sort()).toEqual([
      'event',
      'event',
      'event',
      'record',
      'record',
      'restart',
      'secret',
      'status',
    ]);
    expect(baseline.slice(0, 3).map((s) => s.kind)).toEqual(['record', 'record', 'secret']); // hashes before plaintext
  });

  it.each(ROWS)(
    'operator killed after write %i, restarted: one successor, nothing lost, nothing valid outside the lineage',
    async (k) => {
      const name = nameOf(k);
      const { keyId: first, generation } = before.get(name)!;
      expect(injector.writes(`${NS}/${name}`)).toHaveLength(k); // A got exactly k writes through
      // B completes the rotation
      const s = await eventually(
        async () => {
          const st = await status(name);
          const id = (await secret(name)).metadata?.annotations?.[ANNOTATIONS.keyId];
          const d = await web(name);
          return st?.lastRotationRequest === 'crash-test' &&
            st.currentKeyId === id &&
            id !== first &&
            d.spec?.template.metadata?.annotations?.[ANNOTATIONS.restartedFor] === id
            ? st
            : undefined;
        },
        60_000,
        `${name} rotated by the restarted operator`,
      );
      const successor = s.currentKeyId!;
      expect(s.keys!.map((e) => [e.id, e.state])).toEqual([
        [first, 'Superseded'],
        [successor, 'Active'],
      ]);
      const plaintext = Buffer.from((await secret(name)).data!['api-key']!, 'base64').toString();
      expect(parseKey(plaintext)).toMatchObject({ ok: true, keyId: successor });
      const recs = await records(name);
      expect(verifyKey(plaintext, recs.find((r) => r.keyId === successor)!.hash)).toBe(true);
      expect(
        recs
          .filter(isUsableRecord)
          .map((r) => `${r.keyId}:${r.state}`)
          .sort(),
      ).toEqual([`${first}:Superseded`, `${successor}:Active`].sort());
      expect(recs.every((r) => r.keyId === first || r.keyId === successor)).toBe(true); // the orphan of an interrupted issue is gone
      // rolled exactly once for this rotation, and Events once each
      expect((await web(name)).metadata!.generation).toBe(generation + 1);
      const events = (await core.listNamespacedEvent({ namespace: NS })).items.filter(
        (e) => e.involvedObject.name === name,
      );
      expect(events.filter((e) => e.reason === 'KeyIssued' && e.message?.includes(successor))).toHaveLength(1);
      expect(events.filter((e) => e.reason === 'KeySuperseded')).toHaveLength(1);
      expect(events.every((e) => e.count === 1)).toBe(true);
      // the rotation is in the audit trail (A's or B's)
      const audit = [...logsA, ...b!.logs]
        .filter((l) => l.includes('"stream":"audit"'))
        .map((l) => JSON.parse(l) as Record<string, string>);
      expect(audit).toContainEqual(
        expect.objectContaining({ action: 'rotate', apiKey: `${NS}/${name}`, keyId: successor, relatedKeyId: first }),
      );
    },
  );
});
