import { describe, expect, it } from 'vitest';
import { snapshotHash, snapshotOf } from './changes.ts';
import { observedUpdate } from './observed.ts';
import type { TrailState } from './trail-store.ts';
import { issuedKeyFrom, withIssuedKeys, type TrailEntry } from './trail.ts';

// The observed-change controller's decision, applied to the trail state it would read (or assume).
const NOW = new Date('2026-11-28T06:00:00Z');
type Observed = Parameters<typeof observedUpdate>[0];
const apiKey = (spec: object, status: { currentKeyId?: string } = {}, rv = '7'): Observed => ({
  apiVersion: 'keys.nemorouter.io/v1alpha1',
  kind: 'ApiKey',
  metadata: {
    name: 'checkout',
    namespace: 'team-a',
    uid: 'u-1',
    resourceVersion: rv,
    managedFields: [
      {
        manager: 'kubectl',
        operation: 'Update',
        time: new Date('2026-11-28T05:59:58Z'),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': {} },
      },
    ],
  },
  spec,
  status,
});
const run = (obj: Observed, state: TrailState, issued: Parameters<typeof observedUpdate>[2] = []) =>
  observedUpdate(obj, NOW, issued)(state);

describe('observed changes', () => {
  it('a new ApiKey: one create entry by its field manager, naming the key issued for it, and a baseline', () => {
    const obj = apiKey({ team: 'payments' });
    const got = run(obj, { entries: [] }, [issuedKeyFrom({ action: 'create', keyId: 'k1' })!]);
    expect(got.add).toEqual([
      expect.objectContaining({
        id: 'observed:u-1:7',
        action: 'create',
        actor: 'kubectl (field manager; no audit event)',
        keyId: 'k1',
        time: '2026-11-28T05:59:58.000Z',
      }),
    ]);
    expect(got.remove).toEqual([]);
    expect(got.baseline?.hash).toBe(snapshotHash(snapshotOf(obj as Parameters<typeof snapshotOf>[0])));
  });

  it('the key issued after the create was recorded is filled into that entry (replacing it), nothing else', () => {
    const obj = apiKey({ team: 'payments' });
    const first = run(obj, { entries: [] });
    expect(first.add[0]?.keyId).toBeUndefined();
    const stored: TrailState = { entries: first.add, ...(first.baseline ? { baseline: first.baseline } : {}) };
    const later = run(obj, stored, [issuedKeyFrom({ action: 'create', keyId: 'k1' })!]);
    expect(later.add).toEqual([{ ...first.add[0], keyId: 'k1' }]);
    expect(later.remove).toEqual([first.add[0]!.id]);
    expect(later.baseline).toBeUndefined();
    // Again (a re-sent note, a second reconcile): nothing to write.
    const filled: TrailState = { entries: later.add, baseline: stored.baseline! };
    expect(run(obj, filled, [issuedKeyFrom({ action: 'create', keyId: 'k1' })!])).toEqual({ add: [], remove: [] });
  });

  it('an unchanged ApiKey with nothing to name writes nothing', () => {
    const obj = apiKey({ team: 'payments' }, { currentKeyId: 'k1' });
    const first = run(obj, { entries: [] });
    expect(run(obj, { entries: first.add, baseline: first.baseline! })).toEqual({ add: [], remove: [] });
  });
});

describe('withIssuedKeys', () => {
  const entry = (id: string, action: TrailEntry['action'], keyId?: string): TrailEntry => ({
    id,
    time: '2026-11-28T05:00:00Z',
    action,
    actor: 'alice',
    ...(keyId ? { keyId } : {}),
  });
  it.each<[string, TrailEntry[], TrailEntry[], ReturnType<typeof withIssuedKeys>]>([
    [
      'names the key in an entry being added',
      [],
      [entry('c', 'create')],
      { add: [entry('c', 'create', 'k1')], remove: [] },
    ],
    ['replaces a stored entry', [entry('c', 'create')], [], { add: [entry('c', 'create', 'k1')], remove: ['c'] }],
    ['leaves an entry that names it', [entry('c', 'create', 'k1')], [], { add: [], remove: [] }],
    ['nothing to complete', [entry('e', 'edit')], [], { add: [], remove: [] }],
  ])('%s', (_name, stored, add, want) =>
    expect(withIssuedKeys(stored, add, [{ action: 'create', keyId: 'k1' }])).toEqual(want),
  );

  it('a rotate names its successor and predecessor; a rotate without a predecessor names nothing', () => {
    const rotate = entry('r', 'rotate', 'k1');
    expect(
      withIssuedKeys([rotate], [], [issuedKeyFrom({ action: 'rotate', keyId: 'k2', relatedKeyId: 'k1' })!]),
    ).toEqual({ add: [{ ...rotate, keyId: 'k2', predecessorKeyId: 'k1' }], remove: ['r'] });
    expect(issuedKeyFrom({ action: 'rotate', keyId: 'k2' })).toBeUndefined();
    expect(issuedKeyFrom({ action: 'expire', keyId: 'k2' })).toBeUndefined();
  });
});
