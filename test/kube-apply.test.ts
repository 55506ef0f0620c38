// kube/apply.ts against the real API server: server-side apply really is SSA (managedFields say
// "Apply"), status goes through the /status subresource, merge patches carry optimistic concurrency,
// and 409s are recognised.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  type V1Secret,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION } from '../api/constants.ts';
import {
  apiErrorMessage,
  applyObject,
  deleteIfExists,
  isConflict,
  isNotFound,
  patchCustomStatus,
  patchMetadata,
  readIfExists,
} from '../kube/apply.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster } from './support/cluster.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ns = `kube-apply-${randomBytes(3).toString('hex')}`;

describe.skipIf(!hasCluster())('kube/apply against the real API server', () => {
  let kc: KubeConfig;
  let core: CoreV1Api;

  beforeAll(async () => {
    kc = adminKubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const crdDir = join(import.meta.dirname, '..', 'crds');
    const yaml = readdirSync(crdDir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => readFileSync(join(crdDir, f), 'utf8'))
      .join('\n---\n');
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, yaml);
  });
  afterAll(async () => {
    await core?.deleteNamespace({ name: ns }).catch(() => {});
  });

  const secret = (data: Record<string, string>, labels: Record<string, string> = {}): V1Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'applied', namespace: ns, labels },
    type: 'Opaque',
    data,
  });

  it('server-side applies a Secret (create, update, no-op) with data and a field manager', async () => {
    const created = await applyObject(kubeClientFor(kc), secret({ 'api-key': b64('one') }), {
      fieldManager: 'nemokeys-test-a',
    });
    const read = await core.readNamespacedSecret({ name: 'applied', namespace: ns });
    expect(Buffer.from(read.data!['api-key']!, 'base64').toString()).toBe('one');
    const apply = read.metadata!.managedFields!.find((m) => m.manager === 'nemokeys-test-a');
    expect(apply?.operation).toBe('Apply');

    const updated = await applyObject(kubeClientFor(kc), secret({ 'api-key': b64('two') }, { team: 'a' }), {
      fieldManager: 'nemokeys-test-a',
    });
    expect(updated.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);
    expect(Buffer.from(updated.data!['api-key']!, 'base64').toString()).toBe('two');
    expect(updated.metadata?.labels).toEqual({ team: 'a' });

    // Applying the same intent again is not a write: the resourceVersion stays.
    const again = await applyObject(kubeClientFor(kc), secret({ 'api-key': b64('two') }, { team: 'a' }), {
      fieldManager: 'nemokeys-test-a',
    });
    expect(again.metadata?.resourceVersion).toBe(updated.metadata?.resourceVersion);

    // Fields this manager stops applying are removed (that is what SSA ownership buys us).
    const dropped = await applyObject(kubeClientFor(kc), secret({ 'api-key': b64('two') }), {
      fieldManager: 'nemokeys-test-a',
    });
    expect(dropped.metadata?.labels ?? {}).toEqual({});
  });

  it('refuses stringData before sending anything', async () => {
    const bad = { ...secret({}), data: undefined, stringData: { k: 'v' } } as V1Secret;
    await expect(applyObject(kubeClientFor(kc), bad, { fieldManager: 'nemokeys-test-a' })).rejects.toThrow(/use data/);
  });

  it('reports a field-ownership conflict as a 409 with a one-line message', async () => {
    const err = await applyObject(kubeClientFor(kc), secret({ 'api-key': b64('three') }), {
      fieldManager: 'nemokeys-test-b',
      force: false,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isConflict(err)).toBe(true);
    const msg = apiErrorMessage(err);
    expect(msg).toMatch(/^409 Conflict: /);
    expect(msg).not.toContain('\n');
    expect(msg).not.toContain(b64('three'));
    // With force (the default) the other manager takes the field over.
    const forced = await applyObject(kubeClientFor(kc), secret({ 'api-key': b64('three') }), {
      fieldManager: 'nemokeys-test-b',
    });
    expect(Buffer.from(forced.data!['api-key']!, 'base64').toString()).toBe('three');
  });

  it('patches custom-object status through /status, finalizers with optimistic concurrency, and deletes idempotently', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: GROUP, version: VERSION, plural: 'apikeys', namespace: ns, name: 'chat' };
    const created = (await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'apikeys',
      namespace: ns,
      body: { apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name: 'chat', namespace: ns }, spec: { team: 'a' } },
    })) as KubernetesObject;

    const status = {
      observedGeneration: 1,
      currentKeyId: '0123456789abcdef',
      secretName: 'chat',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KeyIssued',
          message: 'ok',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    };
    const patched = (await patchCustomStatus(kubeClientFor(kc), ref, status, {
      fieldManager: 'nemokeys-test-a',
    })) as KubernetesObject & { status?: unknown; spec?: { team?: string } };
    expect(patched.status).toMatchObject({ currentKeyId: '0123456789abcdef', observedGeneration: 1 });
    const stale = await patchCustomStatus(
      kubeClientFor(kc),
      ref,
      { currentKeyId: 'zzzzzzzzzzzzzzzz' },
      { fieldManager: 'nemokeys-test-a', resourceVersion: created.metadata!.resourceVersion! },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isConflict(stale)).toBe(true);
    const afterStatus = (await custom.getNamespacedCustomObject(ref)) as KubernetesObject & {
      spec: { team: string };
      metadata: { generation: number };
    };
    expect(afterStatus.spec.team).toBe('a');
    expect(afterStatus.metadata.generation).toBe(1); // status writes do not bump generation

    const objRef = { apiVersion: API_VERSION, kind: 'ApiKey', name: 'chat', namespace: ns };
    const withFinalizer = await patchMetadata(
      kubeClientFor(kc),
      objRef,
      { finalizers: ['keys.nemorouter.io/test'], resourceVersion: afterStatus.metadata!.resourceVersion },
      { fieldManager: 'nemokeys-test-a' },
    );
    expect(withFinalizer.metadata?.finalizers).toEqual(['keys.nemorouter.io/test']);
    const conflict = await patchMetadata(
      kubeClientFor(kc),
      objRef,
      { finalizers: [], resourceVersion: afterStatus.metadata!.resourceVersion },
      { fieldManager: 'nemokeys-test-a' },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isConflict(conflict)).toBe(true);

    expect(await deleteIfExists(kubeClientFor(kc), objRef)).toBe(true);
    const terminating = await readIfExists<KubernetesObject>(kubeClientFor(kc), objRef);
    expect(terminating?.metadata?.deletionTimestamp).toBeDefined(); // held by the finalizer
    await patchMetadata(kubeClientFor(kc), objRef, { finalizers: [] }, { fieldManager: 'nemokeys-test-a' });
    expect(await readIfExists(kubeClientFor(kc), objRef)).toBeUndefined();
    expect(await deleteIfExists(kubeClientFor(kc), objRef)).toBe(false);
    const missing = await custom.getNamespacedCustomObject(ref).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isNotFound(missing)).toBe(true);
    expect(apiErrorMessage(missing)).toMatch(/^404 NotFound: /);
  });

  it('deleteIfExists with a uid precondition never deletes a same-named successor', async () => {
    const objRef = { apiVersion: 'v1', kind: 'Secret', name: 'applied', namespace: ns };
    const err = await deleteIfExists(kubeClientFor(kc), objRef, { uid: '00000000-0000-0000-0000-000000000000' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isConflict(err)).toBe(true);
    expect(await readIfExists(kubeClientFor(kc), objRef)).toBeDefined();
    expect(await deleteIfExists(kubeClientFor(kc), objRef)).toBe(true);
  });
});
