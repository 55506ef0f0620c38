// Plain-text tables laid out like kubectl's: upper-case headers, columns padded, three spaces apart.

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** A list in one cell: the first `max` items and "+N" for the rest, so one key cannot blow up the table. */
export function cellList(items: readonly string[] | undefined, empty: string, max = 2): string {
  if (!items || items.length === 0) return empty;
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown},+${items.length - max}` : shown;
}
