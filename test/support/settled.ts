import type { UsageTracker } from '../../gateway/usage/tracker.ts';

/** The credits the gateway settled for a key, once its request is settled (settling follows the response). */
export async function settledCredits(usage: UsageTracker, keyId: string): Promise<number | undefined> {
  for (let i = 0; i < 200 && usage.snapshot()[keyId]?.credits === undefined; i++)
    await new Promise((r) => setTimeout(r, 10));
  return usage.snapshot()[keyId]?.credits;
}
