import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ObjectStore } from './object-store.ts';
import { backoffDelay } from './backoff.ts';

const o = (ns: string, name: string, rv: string): KubernetesObject => ({
  metadata: { namespace: ns, name, resourceVersion: rv },
});
const show = (changes: Array<[KubernetesObject, string]>) =>
  changes.map(([x, c]) => `${c}:${x.metadata!.namespace}/${x.metadata!.name}@${x.metadata!.resourceVersion}`);

describe('ObjectStore.replace', () => {
  it.each([
    { name: 'diff only', touchAll: false, want: ['update:a/changed@2', 'add:b/new@1', 'delete:a/gone@1'] },
    {
      name: 'touchAll re-announces unchanged objects',
      touchAll: true,
      want: ['update:a/same@1', 'update:a/changed@2', 'add:b/new@1', 'delete:a/gone@1'],
    },
  ])('$name', ({ touchAll, want }) => {
    const s = new ObjectStore();
    for (const x of [o('a', 'same', '1'), o('a', 'changed', '1'), o('a', 'gone', '1')]) s.upsert(x);
    const changes = s.replace([o('a', 'same', '1'), o('a', 'changed', '2'), o('b', 'new', '1')], touchAll);
    expect(show(changes)).toEqual(want);
    expect(s.size).toBe(3);
    expect(
      s
        .list('a')
        .map((x) => x.metadata!.name)
        .sort(),
    ).toEqual(['changed', 'same']);
    expect(s.get('a', 'gone')).toBeUndefined();
  });

  it('cluster-scoped objects live under the empty namespace; remove returns the cached version', () => {
    const s = new ObjectStore();
    expect(s.upsert({ metadata: { name: 'n', resourceVersion: '1' } })).toBe('add');
    expect(s.get(undefined, 'n')?.metadata?.resourceVersion).toBe('1');
    expect(s.upsert({ metadata: { name: 'n', resourceVersion: '1' } })).toBeUndefined();
    expect(s.upsert({ metadata: { name: 'n', resourceVersion: '2' } })).toBe('update');
    expect(s.remove({ metadata: { name: 'n', resourceVersion: '3' } })?.metadata?.resourceVersion).toBe('2');
    expect(s.size).toBe(0);
    expect(s.remove({ metadata: { name: 'n' } })).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it.each([
    [0, 0],
    [1, 5],
    [2, 10],
    [3, 20],
    [10, 2560],
    [18, 655_360],
    [19, 1_000_000],
    [5000, 1_000_000],
  ])('failure %i → %i ms', (failures, want) => {
    expect(backoffDelay(failures, { baseMs: 5, maxMs: 1_000_000 })).toBe(want);
  });
});
