// One copy of the strings thousands of cached objects share. JSON.parse gives every value its own
// string, so at 10 000 ApiKeys the operator held 40 000 copies of the namespace, 30 000 of each condition
// reason, message and transition second, 31 000 of the field managers' names (docs/design.md §7.1).
// Informers pass what they cache through a pool: a value seen recently is replaced by the pool's copy.
// The pool is bounded: two generations of `capacity` strings; one that keeps recurring is moved to the
// newer one on each hit and stays, a one-off (a uid, a key id) ages out with the older one.

/** Keys whose values are never shared (or are payloads): left alone, so they do not churn the pool. */
const SKIPPED_KEYS = new Set(['data', 'stringData', 'resourceVersion', 'uid', 'generateName']);
/** Longer strings are rarely shared and cost a hash of their whole length to look up. */
const MAX_LENGTH = 96;

/**
 * Two generations of `capacity` values by key: a value seen recently is replaced by the pool's copy. One
 * that keeps recurring is moved to the newer generation on each hit and stays; a one-off ages out.
 */
export class SharedPool<V> {
  #current = new Map<string, V>();
  #previous = new Map<string, V>();
  readonly #capacity: number;

  constructor(capacity = 4096) {
    this.#capacity = capacity;
  }

  /** Values held (both generations): at most twice the capacity. */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** The pool's value for `key`, or `value` (then kept as the pool's). */
  share(key: string, value: V): V {
    const hit = this.#current.get(key);
    if (hit !== undefined) return hit;
    const kept = this.#previous.get(key) ?? value;
    if (this.#current.size >= this.#capacity) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(key, kept);
    return kept;
  }
}

export class StringPool extends SharedPool<string> {
  intern(s: string): string {
    return this.share(s, s);
  }

  /** Replaces, in place, every short string value under `value` (plain objects and arrays only). */
  internValues<T>(value: T): T {
    this.#walk(value, 0);
    return value;
  }

  #walk(node: unknown, depth: number): void {
    if (depth > 32 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const v = node[i];
        if (typeof v === 'string') {
          if (v.length <= MAX_LENGTH) node[i] = this.intern(v);
        } else this.#walk(v, depth + 1);
      }
      return;
    }
    if (Object.getPrototypeOf(node) !== Object.prototype) return; // Dates, class instances
    const obj = node as Record<string, unknown>;
    for (const key in obj) {
      if (SKIPPED_KEYS.has(key)) continue;
      const v = obj[key];
      if (typeof v === 'string') {
        if (v.length <= MAX_LENGTH) obj[key] = this.intern(v);
      } else this.#walk(v, depth + 1);
    }
  }
}

/** The process's pool, shared by all its informers (a namespace or reason is one string for all caches). */
export const cachePool = new StringPool();
