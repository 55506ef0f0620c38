import { describe, expect, it } from 'vitest';
import { lastManagerOf } from '../operator/apikey/conditions.ts';
import {
  compactCustomObject,
  compactMetadata,
  compactSecret,
  LAST_APPLIED_ANNOTATION,
  pruneManagedFields,
} from './compact.ts';

const managedFields = [
  {
    manager: 'kubectl',
    operation: 'Update',
    time: new Date('2026-01-01T00:00:00Z'),
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:spec': { 'f:team': {}, 'f:allowedModels': {} }, 'f:metadata': { 'f:labels': { 'f:a': {} } } },
  },
  {
    manager: 'argocd',
    operation: 'Apply',
    time: new Date('2026-01-02T00:00:00Z'),
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:keys.nemorouter.io/rotate': {}, 'f:other': {} } } },
  },
  {
    manager: 'nemokeys-operator',
    operation: 'Update',
    subresource: 'status',
    time: new Date('2026-01-03T00:00:00Z'),
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:status': { 'f:keys': {} } },
  },
];
const PATHS = [['f:spec'], ['f:metadata', 'f:annotations', 'f:keys.nemorouter.io/rotate']] as const;

describe('compactMetadata', () => {
  it('keeps what consumers read and drops managedFields and the last-applied copy', () => {
    const deletionTimestamp = new Date();
    const creationTimestamp = new Date();
    const meta = compactMetadata({
      name: 'a',
      namespace: 'ns',
      uid: 'u',
      resourceVersion: '7',
      generation: 3,
      labels: { l: '1' },
      annotations: { x: 'y', [LAST_APPLIED_ANNOTATION]: '{"huge":"copy"}' },
      finalizers: ['f'],
      deletionTimestamp,
      ownerReferences: [{ apiVersion: 'v1', kind: 'K', name: 'o', uid: 'ou', controller: true }],
      creationTimestamp,
      managedFields,
    });
    expect(meta).toEqual({
      name: 'a',
      namespace: 'ns',
      uid: 'u',
      resourceVersion: '7',
      generation: 3,
      creationTimestamp,
      labels: { l: '1' },
      annotations: { x: 'y' },
      finalizers: ['f'],
      deletionTimestamp,
      ownerReferences: [{ apiVersion: 'v1', kind: 'K', name: 'o', uid: 'ou', controller: true }],
    });
    expect(
      compactMetadata({ name: 'b', annotations: { [LAST_APPLIED_ANNOTATION]: '{}' } }).annotations,
    ).toBeUndefined();
  });

  it('compactSecret keeps type and data', () => {
    expect(
      compactSecret({
        metadata: { name: 's', resourceVersion: '1', managedFields },
        type: 'Opaque',
        data: { k: 'dg==' },
      }),
    ).toEqual({
      metadata: { name: 's', resourceVersion: '1', namespace: undefined, uid: undefined },
      type: 'Opaque',
      data: { k: 'dg==' },
    });
  });
});

describe('pruneManagedFields', () => {
  it('keeps every entry (manager, time, subresource) with only the asked-for paths of fieldsV1', () => {
    expect(pruneManagedFields(managedFields, PATHS)).toEqual([
      { manager: 'kubectl', operation: 'Update', time: managedFields[0]!.time, fieldsV1: { 'f:spec': {} } },
      {
        manager: 'argocd',
        operation: 'Apply',
        time: managedFields[1]!.time,
        fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:keys.nemorouter.io/rotate': {} } } },
      },
      {
        manager: 'nemokeys-operator',
        operation: 'Update',
        subresource: 'status',
        time: managedFields[2]!.time,
        fieldsV1: {},
      },
    ]);
  });

  it('a path and a longer path under it both survive, in either order', () => {
    const both = [['f:metadata'], ['f:metadata', 'f:annotations', 'f:keys.nemorouter.io/rotate']];
    for (const paths of [both, [...both].reverse()]) {
      expect(pruneManagedFields([managedFields[1]!], paths)[0]!.fieldsV1).toEqual({
        'f:metadata': { 'f:annotations': { 'f:keys.nemorouter.io/rotate': {} } },
      });
    }
  });

  // The planner's "who changed it" (the audit actor) must read the same from the pruned entries.
  it.each([
    [['f:spec'], 'kubectl'],
    [['f:metadata', 'f:annotations', 'f:keys.nemorouter.io/rotate'], 'argocd'],
  ])('lastManagerOf(%j) is unchanged by pruning', (path, want) => {
    expect(lastManagerOf(managedFields, path, ['nemokeys-operator'])).toBe(want);
    expect(lastManagerOf(pruneManagedFields(managedFields, PATHS), path, ['nemokeys-operator'])).toBe(want);
  });

  it('the default for custom objects answers "who wrote spec / metadata" like the full managedFields', () => {
    const obj = compactCustomObject({ metadata: { name: 'k', managedFields } });
    for (const path of [['f:spec'], ['f:metadata']]) {
      expect(lastManagerOf(obj.metadata!.managedFields, path, ['nemokeys-operator'])).toBe(
        lastManagerOf(managedFields, path, ['nemokeys-operator']),
      );
    }
    expect(obj.metadata!.managedFields!.map((f) => f.time)).toEqual(managedFields.map((f) => f.time));
  });
});
