import type { UsageReport, WindowSpend } from '../../api/usage.ts';

// Budget spend per budget window, as the usage reports carry it (docs/design.md §4, "Budgets across
// restarts and replicas"). Pure bookkeeping, no I/O. Reports carry spend per KEY ID (beside its counts,
// so a report names each key once: small even with 10 000 keys); budgets are per ApiKey (limitsKey),
// so sums go through `limitsKeyOf` (the key records). A key id without a record counts for nothing.
// - own: what this replica's identity admitted per key id, continued from its previous report (`seed`),
//   so a restart (SIGTERM or SIGKILL) forgets at most what happened after the last report;
// - seeded: the part of `own` that came from that previous report (a fresh limiter does not count it);
// - live: what this process charged, per limitsKey;
// - peers: the other replicas' reports, replaced every report interval.

type Sums = Map<string, { seeded: number; peers: number }>;
const at = (limitsKey: string, window: string) => `${limitsKey}\n${window}`;
/** Record changes (a burst while thousands of keys are issued) rebuild the sums at most this often. */
const RECORD_CHANGE_REBUILD_MS = 1000;

function add(map: Map<string, WindowSpend>, key: string, window: string, credits: number): void {
  const cur = map.get(key);
  if (cur === undefined || cur.window !== window) map.set(key, { window, credits });
  else cur.credits += credits;
}

export class SpendLedger {
  readonly #limitsKeyOf: (keyId: string) => string | undefined;
  readonly #nowMs: () => number;
  #own = new Map<string, WindowSpend>();
  #seeded = new Map<string, WindowSpend>();
  #live = new Map<string, WindowSpend>();
  #peers: Array<[keyId: string, spend: WindowSpend]> = [];
  /** Seeded and peers' spend per limitsKey and window; rebuilt when reports or records changed. */
  #sums: Sums | undefined;
  #sumsBuiltAt = 0;
  #recordsChanged = false;
  #dirty = false;

  constructor(limitsKeyOf: (keyId: string) => string | undefined, nowMs: () => number = () => performance.now()) {
    this.#limitsKeyOf = limitsKeyOf;
    this.#nowMs = nowMs;
  }

  /** Continues this identity's spend from its previous report (called once, at start). */
  seed(keys: UsageReport['keys'] | undefined): void {
    for (const [keyId, u] of Object.entries(keys ?? {})) {
      if (u.spend === undefined) continue;
      add(this.#own, keyId, u.spend.window, u.spend.credits);
      add(this.#seeded, keyId, u.spend.window, u.spend.credits);
      this.#dirty = true;
    }
    this.#sums = undefined;
  }

  /** Replaces the peers' spend with their latest reports (this replica's own excluded by the caller). */
  setPeers(reports: Iterable<Pick<UsageReport, 'keys'>>): void {
    const next: Array<[string, WindowSpend]> = [];
    for (const r of reports) for (const [keyId, u] of Object.entries(r.keys)) if (u.spend) next.push([keyId, u.spend]);
    this.#peers = next;
    this.#sums = undefined;
  }

  /** The key records changed: which key id belongs to which ApiKey may have too. */
  recordsChanged(): void {
    this.#recordsChanged = true;
  }

  charge(keyId: string, limitsKey: string, window: string, cost: number): void {
    const credits = Math.floor(cost); // reports carry whole credits, like the Redis counters
    if (credits <= 0) return;
    add(this.#own, keyId, window, credits);
    add(this.#live, limitsKey, window, credits);
    this.#dirty = true;
  }

  /** Other replicas' reported spend in this window. */
  peers(limitsKey: string, window: string): number {
    return this.#sum(limitsKey, window)?.peers ?? 0;
  }

  /** This identity's spend in this window from before this process started. */
  seeded(limitsKey: string, window: string): number {
    return this.#sum(limitsKey, window)?.seeded ?? 0;
  }

  /** This identity's spend in this window (before and since this process started). */
  own(limitsKey: string, window: string): number {
    const live = this.#live.get(limitsKey);
    return this.seeded(limitsKey, window) + (live?.window === window ? live.credits : 0);
  }

  /** Drops the spend of key ids `keep` says no to (record gone, window over, key id no longer reported). */
  prune(keep: (keyId: string, window: string) => boolean): void {
    for (const map of [this.#own, this.#seeded]) {
      for (const [keyId, s] of map) {
        if (keep(keyId, s.window)) continue;
        map.delete(keyId);
        if (map === this.#own) this.#dirty = true;
        this.#sums = undefined;
      }
    }
  }

  get dirty(): boolean {
    return this.#dirty;
  }

  /** This identity's spend per key id for the report; clears the dirty flag. */
  snapshot(): Map<string, WindowSpend> {
    this.#dirty = false;
    return new Map([...this.#own].map(([keyId, s]) => [keyId, { ...s }]));
  }

  #sum(limitsKey: string, window: string) {
    const now = this.#nowMs();
    if (this.#recordsChanged && now - this.#sumsBuiltAt >= RECORD_CHANGE_REBUILD_MS) this.#sums = undefined;
    if (this.#sums === undefined) {
      this.#recordsChanged = false;
      this.#sumsBuiltAt = now;
      const sums: Sums = new Map();
      const put = (keyId: string, s: WindowSpend, field: 'seeded' | 'peers') => {
        const lk = this.#limitsKeyOf(keyId);
        if (lk === undefined) return;
        const k = at(lk, s.window);
        const cur = sums.get(k) ?? { seeded: 0, peers: 0 };
        cur[field] += s.credits;
        sums.set(k, cur);
      };
      for (const [keyId, s] of this.#seeded) put(keyId, s, 'seeded');
      for (const [keyId, s] of this.#peers) put(keyId, s, 'peers');
      this.#sums = sums;
    }
    return this.#sums.get(at(limitsKey, window));
  }
}
