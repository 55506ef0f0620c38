// What a request reserves on admission (docs/design.md §4, "Costs"): the output it may produce, as
// the client bounded it, else a configured default. settle() replaces it with the router's reported
// usage; a stream cut before the router reported any is charged the reservation, never 0 or 1.

export const DEFAULT_RESERVATION_TOKENS = 256;

const OUTPUT_BOUNDS = ['max_completion_tokens', 'max_tokens', 'max_output_tokens'] as const;

export function reservationEstimate(json: Record<string, unknown> | undefined, defaultTokens: number): number {
  if (json !== undefined) {
    for (const field of OUTPUT_BOUNDS) {
      const v = json[field];
      if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
    }
  }
  return defaultTokens;
}
