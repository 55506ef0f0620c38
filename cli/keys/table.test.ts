import { describe, expect, it } from 'vitest';
import { cellList, formatTable } from './table.ts';

describe('formatTable', () => {
  it('pads every column but the last to its widest cell, three spaces apart', () => {
    expect(
      formatTable(
        ['NAME', 'TEAM'],
        [
          ['a', 'checkout'],
          ['longer-name', 'x'],
        ],
      ),
    ).toBe('NAME          TEAM\n' + 'a             checkout\n' + 'longer-name   x\n');
  });
  it('prints only the header for no rows', () => {
    expect(formatTable(['A', 'B'], [])).toBe('A   B\n');
  });
});

describe('cellList', () => {
  it.each([
    [undefined, 'any'],
    [[], 'any'],
    [['a'], 'a'],
    [['a', 'b'], 'a,b'],
    [['a', 'b', 'c', 'd'], 'a,b,+2'],
  ])('%j → %s', (items, text) => expect(cellList(items, 'any')).toBe(text));
});
