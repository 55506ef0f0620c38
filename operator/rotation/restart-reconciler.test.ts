import { describe, expect, it } from 'vitest';
import { FakeCluster } from '../apikey/fake-writer.ts';
import { NS, T0, apiKey, testKeys, workloadSecret } from '../apikey/testing.ts';
import { CrashInjector, SimulatedCrash } from './failure-injection.ts';
import { createRestartReconciler } from './restart-reconciler.ts';
import { RestartTargetTracker } from './restart-status.ts';
import type { TargetRef, WorkloadClient } from './workloads.ts';

// The restart-target controller against fakes: one patch per change of the key ids, shared targets,
// missing targets (Event + condition via the tracker + slow recheck, no error), crash in between.

class FakeWorkloads implements WorkloadClient {
  readonly objects = new Map<string, string | undefined>();
  patches: { target: string; value: string }[] = [];
  add(name: string, annotation?: string) {
    this.objects.set(`Deployment/${name}`, annotation);
  }
  async read(t: TargetRef) {
    const k = `${t.kind}/${t.name}`;
    return this.objects.has(k)
      ? { exists: true as const, annotation: this.objects.get(k) }
      : { exists: false as const };
  }
  async setAnnotation(t: TargetRef, value: string) {
    this.patches.push({ target: `${t.kind}/${t.name}`, value });
    this.objects.set(`${t.kind}/${t.name}`, value);
  }
}

const keys = testKeys(21);
function setup() {
  const cluster = new FakeCluster();
  const workloads = new FakeWorkloads();
  const tracker = new RestartTargetTracker();
  const changed: string[] = [];
  const deps = {
    apiKeys: cluster.apiKeys,
    secrets: cluster.secrets,
    workloads,
    events: cluster,
    tracker,
    onTargetStateChange: (k: string) => changed.push(k),
    clock: { now: () => T0 },
  };
  const reconciler = createRestartReconciler(deps);
  /** An ApiKey `name` targeting Deployment/web whose Secret holds a fresh key; returns the key id. */
  const keyFor = (name: string, target = 'web') => {
    cluster.apiKeys.put(apiKey({ rotation: { restartTargets: [{ kind: 'Deployment', name: target }] } }, { name }));
    return rotate(name);
  };
  const rotate = (name: string) => {
    const k = keys();
    cluster.secrets.put(workloadSecret(k.key, k.keyId, { name, apiKeyName: name }));
    return k.keyId;
  };
  return {
    cluster,
    workloads,
    tracker,
    changed,
    reconciler,
    deps,
    keyFor,
    rotate,
    run: () => reconciler.reconcile(`${NS}/Deployment/web`),
  };
}

describe('restart-target reconciler', () => {
  it('annotates the target with the key id, then a second reconcile writes nothing', async () => {
    const w = setup();
    w.workloads.add('web');
    const id = w.keyFor('checkout');
    expect(await w.run()).toEqual({});
    expect(w.workloads.patches).toEqual([{ target: 'Deployment/web', value: id }]);
    expect(w.cluster.events).toEqual([
      expect.objectContaining({
        type: 'Normal',
        reason: 'RestartTriggered',
        involved: `${NS}/checkout`,
        message: expect.stringContaining(`=${id} because the key in its Secret changed`),
      }),
    ]);
    for (let i = 0; i < 3; i++) await w.run();
    expect(w.workloads.patches).toHaveLength(1);
    expect(w.reconciler.lastPatches).toBe(0);
    expect(w.cluster.events).toHaveLength(1);
  });

  it('a rotation rolls it exactly once more', async () => {
    const w = setup();
    w.workloads.add('web');
    w.keyFor('checkout');
    await w.run();
    const next = w.rotate('checkout');
    await w.run();
    await w.run();
    expect(w.workloads.patches.map((p) => p.value).at(-1)).toBe(next);
    expect(w.workloads.patches).toHaveLength(2);
  });

  it('two ApiKeys sharing a target, rotated together: ONE patch carrying both new key ids', async () => {
    const w = setup();
    w.workloads.add('web');
    w.keyFor('alpha');
    w.keyFor('beta');
    await w.run();
    expect(w.workloads.patches).toHaveLength(1);
    const a = w.rotate('alpha');
    const b = w.rotate('beta');
    await w.run(); // the debounced reconcile sees both changes
    expect(w.workloads.patches).toHaveLength(2);
    expect(w.workloads.patches[1]!.value).toBe([a, b].sort().join(','));
    // an Event on each ApiKey, once
    expect(
      w.cluster.events
        .filter((e) => e.reason === 'RestartTriggered')
        .map((e) => e.involved)
        .sort(),
    ).toEqual([`${NS}/alpha`, `${NS}/alpha`, `${NS}/beta`, `${NS}/beta`]);
  });

  it('a missing target: Warning Event once, tracker says missing (ApiKey re-rendered), slow recheck, no error; found later → patched', async () => {
    const w = setup();
    const counted = new CrashInjector(); // never armed: only counts the Event writes
    const reconciler = createRestartReconciler({ ...w.deps, events: counted.wrapWriter(w.cluster) });
    const id = w.keyFor('checkout');
    const r1 = await reconciler.reconcile(`${NS}/Deployment/web`);
    expect(r1.requeueAfterMs).toBe(5 * 60_000);
    await reconciler.reconcile(`${NS}/Deployment/web`);
    await reconciler.reconcile(`${NS}/Deployment/web`);
    expect(counted.writes(`${NS}/checkout`)).toHaveLength(1); // the rechecks write nothing
    expect(w.cluster.events).toEqual([
      expect.objectContaining({
        type: 'Warning',
        reason: 'RestartTargetNotFound',
        message: expect.stringMatching(/Deployment\/web not found in namespace team-a/),
      }),
    ]);
    expect(w.changed).toEqual([`${NS}/checkout`]);
    expect(w.tracker.stateFor(w.cluster.apiKeys.get(NS, 'checkout')!)).toEqual(new Map([['Deployment/web', false]]));
    w.workloads.add('web');
    expect(await w.run()).toEqual({});
    expect(w.workloads.patches).toEqual([{ target: 'Deployment/web', value: id }]);
    expect(w.changed).toEqual([`${NS}/checkout`, `${NS}/checkout`]);
  });

  it('no ApiKey names the target (any more): nothing read or written', async () => {
    const w = setup();
    w.workloads.add('web', 'kept');
    w.keyFor('checkout', 'other');
    await w.run();
    expect(w.workloads.patches).toEqual([]);
    expect(w.workloads.objects.get('Deployment/web')).toBe('kept');
  });

  it('dying between the patch and its Event: the restarted controller does not roll again', async () => {
    const w = setup();
    w.workloads.add('web');
    w.keyFor('checkout');
    const injector = new CrashInjector();
    injector.arm(`${NS}/checkout`, 1);
    const dying = createRestartReconciler({
      ...w.deps,
      workloads: injector.wrapWorkloads(w.workloads, () => `${NS}/checkout`),
      events: injector.wrapWriter(w.cluster),
    });
    await expect(dying.reconcile(`${NS}/Deployment/web`)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(w.workloads.patches).toHaveLength(1);
    await w.run(); // restarted
    expect(w.workloads.patches).toHaveLength(1);
  });
});
