// Keys waiting for a deadline, earliest first (client-go's delaying queue): one binary min-heap and one
// timer for the whole queue, instead of a timer per key. At 10 000 ApiKeys every key waits for its expiry
// or hand-off, and a Node timer per key (Timeout, closure, context) held ~3.5 MiB.

interface Entry {
  key: string;
  at: number;
  /** Position in the heap array (kept up to date by every move). */
  index: number;
}

export class DelayHeap {
  readonly #heap: Entry[] = [];
  readonly #byKey = new Map<string, Entry>();

  get size(): number {
    return this.#heap.length;
  }

  /** The deadline of `key`, if it waits. */
  deadline(key: string): number | undefined {
    return this.#byKey.get(key)?.at;
  }

  /** The earliest deadline, if any key waits. */
  earliest(): number | undefined {
    return this.#heap[0]?.at;
  }

  /** Sets `key`'s deadline (adding it, or moving it earlier or later). */
  set(key: string, at: number): void {
    const existing = this.#byKey.get(key);
    if (existing) {
      const earlier = at < existing.at;
      existing.at = at;
      if (earlier) this.#up(existing.index);
      else this.#down(existing.index);
      return;
    }
    const entry: Entry = { key, at, index: this.#heap.length };
    this.#heap.push(entry);
    this.#byKey.set(key, entry);
    this.#up(entry.index);
  }

  /** Removes and returns the keys whose deadline is ≤ `now`, earliest first. */
  popDue(now: number): string[] {
    const due: string[] = [];
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const top = this.#heap[0]!;
      this.#removeAt(0);
      due.push(top.key);
    }
    return due;
  }

  clear(): void {
    this.#heap.length = 0;
    this.#byKey.clear();
  }

  #removeAt(i: number): void {
    const entry = this.#heap[i]!;
    this.#byKey.delete(entry.key);
    const last = this.#heap.pop()!;
    if (i === this.#heap.length) return;
    this.#heap[i] = last;
    last.index = i;
    this.#down(i);
    this.#up(i);
  }

  #up(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= h[i]!.at) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && h[l]!.at < h[min]!.at) min = l;
      if (r < h.length && h[r]!.at < h[min]!.at) min = r;
      if (min === i) return;
      this.#swap(i, min);
      i = min;
    }
  }

  #swap(a: number, b: number): void {
    const h = this.#heap;
    const x = h[a]!;
    const y = h[b]!;
    h[a] = y;
    h[b] = x;
    y.index = a;
    x.index = b;
  }
}
