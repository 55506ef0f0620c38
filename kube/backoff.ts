// Capped exponential backoff, the one formula used by informer restarts and work-queue retries.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Delay before retry number `failures` (1 = first retry): base·2^(failures-1), capped at max. */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  if (failures <= 0) return 0;
  // 2^1024 is Infinity; stop doubling long before that so the cap always applies.
  const exp = Math.min(failures - 1, 60);
  return Math.min(policy.baseMs * 2 ** exp, policy.maxMs);
}
