// Human time for tables: kubectl-style compact ages ("5m ago", "in 29d").

/** Compact span: 45s, 12m, 5h, 3d (hours up to two days, like kubectl's AGE). */
export function compactSpan(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** "5m ago" for the past, "in 3d" for the future; undefined for a missing or unparsable timestamp. */
export function relativeTime(iso: string | undefined, now: Date): string | undefined {
  if (iso === undefined) return undefined;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return undefined;
  const diff = at - now.getTime();
  return diff > 0 ? `in ${compactSpan(diff)}` : `${compactSpan(diff)} ago`;
}

/** "2026-01-31T00:00:00Z (in 3d)" for describe output; the absolute time is what people paste in tickets. */
export function absoluteAndRelative(iso: string | undefined, now: Date): string | undefined {
  const rel = relativeTime(iso, now);
  return rel === undefined ? undefined : `${iso} (${rel})`;
}
