// Durations are one positive integer and one unit (s, m, h, d). One grammar for CRD CEL rules,
// zod validation and runtime parsing, so the API server and our code can never disagree.
export const DURATION_REGEX = /^[1-9][0-9]{0,5}[smhd]$/;
export const DURATION_MAX_SECONDS = 10 * 366 * 24 * 3600;
export const DURATION_HINT = 'a positive integer and one unit s, m, h or d (e.g. 90s, 15m, 1h, 30d), at most 3660d';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
type Unit = keyof typeof UNIT_SECONDS;

/** Milliseconds in a duration, or undefined when it is not one (never throws). */
export function parseDurationMs(text: string): number | undefined {
  if (!DURATION_REGEX.test(text)) return undefined;
  const unit = text[text.length - 1] as Unit;
  const seconds = Number(text.slice(0, -1)) * UNIT_SECONDS[unit];
  return seconds <= DURATION_MAX_SECONDS ? seconds * 1000 : undefined;
}

/** The same check in CEL, so the API server rejects what parseDurationMs rejects. */
export const DURATION_CEL_RULE =
  `self.matches('${DURATION_REGEX.source}') && ` + // no backslashes: safe as a CEL literal
  `int(self.substring(0, size(self) - 1)) * ` +
  `(self.endsWith('d') ? 86400 : self.endsWith('h') ? 3600 : self.endsWith('m') ? 60 : 1) <= ${DURATION_MAX_SECONDS}`;

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (s % size === 0 && s >= size) return `${s / size}${unit}`;
  }
  return `${s}s`;
}
