import { describe, expect, it } from 'vitest';
import type { ChangeKind } from './types.ts';
import { specChangeDetector } from './spec-change.ts';

const obj = (name: string, generation?: number) => ({ metadata: { namespace: 'ns', name, generation } });

describe('specChangeDetector', () => {
  it.each<[string, Array<[ReturnType<typeof obj>, ChangeKind]>, boolean[]]>([
    ['first sight counts (an add, or every object after a restart)', [[obj('a', 1), 'update']], [true]],
    [
      'status writes keep the generation: no change',
      [
        [obj('a', 1), 'add'],
        [obj('a', 1), 'update'],
        [obj('a', 1), 'update'],
      ],
      [true, false, false],
    ],
    [
      'a spec edit bumps the generation',
      [
        [obj('a', 1), 'add'],
        [obj('a', 2), 'update'],
      ],
      [true, true],
    ],
    [
      'a delete always counts, and the object is forgotten',
      [
        [obj('a', 3), 'add'],
        [obj('a', 3), 'delete'],
        [obj('a', 3), 'add'],
      ],
      [true, true, true],
    ],
    [
      'objects are told apart by namespace/name',
      [
        [obj('a', 1), 'add'],
        [obj('b', 1), 'add'],
        [obj('a', 1), 'update'],
      ],
      [true, true, false],
    ],
  ])('%s', (_what, events, expected) => {
    const changed = specChangeDetector();
    expect(events.map(([o, change]) => changed(o, change))).toEqual(expected);
  });
});
