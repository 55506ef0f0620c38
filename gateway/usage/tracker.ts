import type { KeyUsage } from '../../api/usage.ts';

// Cumulative usage per key id for this gateway replica. The request path only bumps numbers in a Map
// (no I/O); a reporter snapshots it on an interval and on shutdown. Counts start from what this
// replica reported before (seed), so a restart with the same identity never loses or double counts.
export class UsageTracker {
  #byKeyId = new Map<string, { requests: number; credits: number; lastUsedAtMs: number }>();
  #dirty = false;

  seed(keys: Record<string, KeyUsage>): void {
    for (const [keyId, u] of Object.entries(keys)) {
      const cur = this.#byKeyId.get(keyId);
      const lastUsedAtMs = Date.parse(u.lastUsedAt);
      if (!cur) this.#byKeyId.set(keyId, { requests: u.requests, credits: u.credits, lastUsedAtMs });
      else {
        cur.requests += u.requests;
        cur.credits += u.credits;
        cur.lastUsedAtMs = Math.max(cur.lastUsedAtMs, lastUsedAtMs);
      }
    }
  }

  record(keyId: string, credits: number, nowMs: number): void {
    const cur = this.#byKeyId.get(keyId);
    if (cur) {
      cur.requests += 1;
      cur.credits += credits;
      if (nowMs > cur.lastUsedAtMs) cur.lastUsedAtMs = nowMs;
    } else {
      this.#byKeyId.set(keyId, { requests: 1, credits, lastUsedAtMs: nowMs });
    }
    this.#dirty = true;
  }

  /** Adds credits learned after the response finished (e.g. from the final SSE chunk). */
  addCredits(keyId: string, credits: number): void {
    const cur = this.#byKeyId.get(keyId);
    if (cur && credits > 0) {
      cur.credits += credits;
      this.#dirty = true;
    }
  }

  /** Forgets key ids `keep` says no (their records are gone), so reports stay bounded. */
  prune(keep: (keyId: string) => boolean): void {
    for (const keyId of this.#byKeyId.keys()) {
      if (keep(keyId)) continue;
      this.#byKeyId.delete(keyId);
      this.#dirty = true;
    }
  }

  get size(): number {
    return this.#byKeyId.size;
  }

  has(keyId: string): boolean {
    return this.#byKeyId.has(keyId);
  }

  /** Keeps the `max` most recently used key ids; returns how many were dropped. */
  keepMostRecent(max: number): number {
    const drop = this.#byKeyId.size - max;
    if (drop <= 0) return 0;
    const oldest = [...this.#byKeyId].sort((a, b) => a[1].lastUsedAtMs - b[1].lastUsedAtMs).slice(0, drop);
    for (const [keyId] of oldest) this.#byKeyId.delete(keyId);
    this.#dirty = true;
    return drop;
  }

  get dirty(): boolean {
    return this.#dirty;
  }

  /** A copy for the reporter; clears the dirty flag (set again by the next request). */
  snapshot(): Record<string, KeyUsage> {
    this.#dirty = false;
    const out: Record<string, KeyUsage> = {};
    for (const [keyId, u] of this.#byKeyId) {
      out[keyId] = { requests: u.requests, credits: u.credits, lastUsedAt: new Date(u.lastUsedAtMs).toISOString() };
    }
    return out;
  }

  lastUsedAtMs(keyId: string): number | undefined {
    return this.#byKeyId.get(keyId)?.lastUsedAtMs;
  }
}
