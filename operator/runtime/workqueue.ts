// controller-runtime's rate-limited work queue (client-go workqueue semantics):
// - a key is queued at most once (dedupe) and handed to at most one worker at a time;
// - a key added while a worker processes it is marked dirty and queued again when that worker is done;
// - per-key exponential backoff on failure (5 ms doubling up to 1000 s), reset by forget() on success;
// - addAfter(key, ms) for "recheck after" (expiry, hand-off): the earliest pending deadline wins; one
//   timer for the whole queue (operator/runtime/delay-heap.ts), not one per key.
import { backoffDelay, type BackoffPolicy } from '../../kube/backoff.ts';
import { DelayHeap } from './delay-heap.ts';

/** The longest delay setTimeout honours (a signed 32-bit ms count). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const DEFAULT_QUEUE_BACKOFF: BackoffPolicy = { baseMs: 5, maxMs: 1000_000 };

export interface WorkQueueOptions {
  backoff?: BackoffPolicy;
}

/** FIFO of keys with O(1) amortized shift (a plain Array.shift is O(n) at 10k keys). */
class Fifo {
  private items: string[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(key: string): void {
    this.items.push(key);
  }
  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class WorkQueue {
  private readonly policy: BackoffPolicy;
  private readonly queue = new Fifo();
  /** Keys that need processing: queued, or re-added while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys waiting for addAfter's deadline; one timer for all of them, set for the earliest. */
  private readonly delayed = new DelayHeap();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly failures = new Map<string, number>();
  private waiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.policy = opts.backoff ?? DEFAULT_QUEUE_BACKOFF;
  }

  /** Keys waiting for a worker (the workqueue_depth metric). */
  get depth(): number {
    return this.queue.length;
  }
  get inFlight(): number {
    return this.processing.size;
  }
  get pendingDelayed(): number {
    return this.delayed.size;
  }
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // done() queues it again
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  /** Adds `key` after `ms`; when the key already waits, the earlier deadline wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const existing = this.delayed.deadline(key);
    if (existing !== undefined && existing <= at) return;
    this.delayed.set(key, at);
    this.arm();
  }

  /**
   * Sets the one timer for the earliest deadline. setTimeout fires after 1 ms for delays above 2^31-1 ms
   * (~24.8 days), which would turn a far "recheck after" (a 90d expiry) into a hot loop: longer waits
   * are cut into segments, and a segment that ends before any deadline just sets the next one.
   */
  private arm(): void {
    const next = this.delayed.earliest();
    if (next === undefined || this.shuttingDown) return;
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.min(Math.max(0, next - Date.now()), MAX_TIMER_MS);
    this.timerAt = Date.now() + wait;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      for (const key of this.delayed.popDue(Date.now())) this.add(key);
      this.arm();
    }, wait);
    this.timer.unref?.();
  }

  /** Records one more failure of `key` and re-adds it after its backoff; returns that delay. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = backoffDelay(n, this.policy);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the key's backoff (after a successful reconcile). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Next key for a worker; waits while the queue is empty; undefined once shut down. */
  async get(): Promise<string | undefined> {
    for (;;) {
      if (this.shuttingDown) return undefined;
      const key = this.queue.shift();
      if (key !== undefined) {
        this.dirty.delete(key);
        this.processing.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** A worker finished `key`; if it was added meanwhile, it goes back on the queue. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key) && !this.shuttingDown) {
      this.queue.push(key);
      this.waiters.shift()?.();
    }
    if (this.processing.size === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * Stops handing out keys, drops queued and delayed keys (the next leader relists everything) and
   * resolves once every in-flight key is done(), so no reconcile is cut off half-way.
   */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.delayed.clear();
    this.queue.clear();
    this.dirty.clear();
    for (const w of this.waiters.splice(0)) w();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
