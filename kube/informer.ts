// A list+watch cache that survives what client-node's own ListWatch does not (docs/design.md §5):
// - any error other than 410 / timeout stops ListWatch for good → we restart with capped backoff;
// - after a restart or periodic relist every cached object is re-announced as 'update', so
//   controllers re-reconcile whatever changed while we were blind;
// - a watch that goes silent (no event, bookmark or reconnect for watchdogMs) is torn down;
// - 410 Gone arrives as HTTP status or as an ERROR event → relist from scratch;
// - handlers are not awaited → a throwing or rejecting handler is logged, never fatal.
// Built on one HTTP watch stream (kube/client.ts) so every transition is ours to control.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import type { Logger } from 'pino';
import type { CachedInformer, ChangeKind } from './cache-types.ts';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import { apiErrorMessage, isGone } from './errors.ts';
import { cachePool } from './intern.ts';
import { ObjectStore } from './object-store.ts';

/** KubeClient's watch; injectable so the state machine is unit-testable. */
export interface WatchLike {
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
}

export interface ListResult<T> {
  items: T[];
  /** Typed (core) lists name the continue token `_continue`, custom-object lists `continue`. */
  metadata?: { resourceVersion?: string; continue?: string; _continue?: string };
}

/** One page of a chunked list (like client-go's pager): `limit` objects from where `continue` left off. */
export interface ListPage {
  limit: number;
  continue?: string;
}

/**
 * Objects per list page: the initial list of 10 000 objects never sits in memory as one response. 100,
 * not client-go's 500: in a Pod's memory limit the young generation is ~4 MiB, so most of a page is
 * promoted before it is dropped; the gateway loading 10 000 records held 126–128 MiB with pages of 100
 * against 132–137 MiB with 500 (bench/README.md), for 100 list requests instead of 20.
 */
export const LIST_PAGE_SIZE = 100;

export interface InformerOptions<T extends KubernetesObject> {
  /** Watches through this client unless `watcher` is given. */
  kube?: KubeClient;
  watcher?: WatchLike;
  /** Collection path, e.g. `/api/v1/namespaces/ns/secrets` or `/apis/keys.nemorouter.io/v1alpha1/apikeys`. */
  path: string;
  /**
   * Lists the same collection with the same selectors (typed API call or custom-object list), one page
   * at a time: pass `page.limit` and `page.continue` on, return the server's continue token.
   */
  list: (page: ListPage) => Promise<ListResult<T>>;
  /** Watch events carry raw JSON; convert them to the shape `list` returns (e.g. V1Secret with Dates). */
  decode?: (raw: unknown) => T;
  /**
   * Applied to every listed and watched object before it is cached or announced (client-go's
   * SetTransform): drop what no consumer reads (managedFields, Secret data) so memory holds only what
   * reconciling needs. Must keep metadata.name, namespace and resourceVersion.
   */
  transform?: (obj: T) => T;
  labelSelector?: string;
  fieldSelector?: string;
  log: Logger;
  /** Name for logs and the restarts metric; default: the last path segment. */
  resource?: string;
  /** Full relist that re-announces every object (controller-runtime's SyncPeriod). 0 disables. */
  relistIntervalMs?: number;
  /** Restart when nothing (event, bookmark, reconnect, list) happened for this long. 0 disables. */
  watchdogMs?: number;
  backoff?: BackoffPolicy;
  /** Called on every restart after a failure (feeds nemokeys_operator_informer_restarts_total). */
  onRestart?: (resource: string, stage: string) => void;
  now?: () => number;
}

export const INFORMER_DEFAULTS = {
  relistIntervalMs: 5 * 60_000,
  watchdogMs: 2 * 60_000,
  backoff: { baseMs: 500, maxMs: 30_000 } satisfies BackoffPolicy,
};

/** A watch that ends faster than this without delivering anything counts as a failure (no hot loop). */
const MIN_HEALTHY_WATCH_MS = 1_000;

type RelistReason = 'initial' | 'expired' | 'restart' | 'resync';
type Phase = 'idle' | 'listing' | 'watching' | 'backoff' | 'stopped';

export function createInformer<T extends KubernetesObject>(opts: InformerOptions<T>): CachedInformer<T> {
  return new ListWatchInformer(opts);
}

class ListWatchInformer<T extends KubernetesObject> implements CachedInformer<T> {
  private readonly opts: InformerOptions<T>;
  private readonly watcher: WatchLike;
  private readonly store = new ObjectStore<T>();
  private readonly handlers: Array<(obj: T, change: ChangeKind) => void> = [];
  private readonly resource: string;
  private readonly now: () => number;
  /** Bumped by every list and watch attempt; callbacks of older attempts are ignored. */
  private epoch = 0;
  private phase: Phase = 'idle';
  private resourceVersion = '';
  private failures = 0;
  private lastActivity = 0;
  private watchAbort: AbortController | undefined;
  private timers: { retry?: NodeJS.Timeout; relist?: NodeJS.Timeout; watchdog?: NodeJS.Timeout } = {};
  private syncWaiters: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private startPromise: Promise<void> | undefined;
  private isSynced = false;

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    if (!opts.watcher && !opts.kube) throw new Error('createInformer: kube or watcher is required');
    this.watcher = opts.watcher ?? opts.kube!;
    this.resource = opts.resource ?? opts.path.split('/').filter(Boolean).at(-1) ?? opts.path;
    this.now = opts.now ?? Date.now;
  }

  get synced(): boolean {
    return this.isSynced;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(namespace, name);
  }

  list(namespace?: string): T[] {
    return this.store.list(namespace);
  }

  onChange(handler: (obj: T, change: ChangeKind) => void): void {
    this.handlers.push(handler);
  }

  start(): Promise<void> {
    if (this.startPromise) return this.startPromise;
    this.startPromise = new Promise<void>((resolve, reject) => {
      this.syncWaiters = { resolve, reject };
    });
    const relistMs = this.opts.relistIntervalMs ?? INFORMER_DEFAULTS.relistIntervalMs;
    if (relistMs > 0) {
      this.timers.relist = setInterval(() => {
        if (this.phase === 'watching') void this.relist('resync');
      }, relistMs);
      this.timers.relist.unref();
    }
    const watchdogMs = this.opts.watchdogMs ?? INFORMER_DEFAULTS.watchdogMs;
    if (watchdogMs > 0) {
      this.timers.watchdog = setInterval(
        () => this.checkWatchdog(watchdogMs),
        Math.max(10, Math.floor(watchdogMs / 4)),
      );
      this.timers.watchdog.unref();
    }
    void this.relist('initial');
    return this.startPromise;
  }

  stop(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.epoch++;
    this.abortWatch();
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.relist);
    clearInterval(this.timers.watchdog);
    this.timers = {};
    this.syncWaiters?.reject(new Error(`informer ${this.resource} stopped before its first sync`));
    this.syncWaiters = undefined;
  }

  private get stopped(): boolean {
    return this.phase === 'stopped';
  }

  private async relist(reason: RelistReason): Promise<void> {
    if (this.stopped) return;
    const epoch = ++this.epoch;
    this.abortWatch();
    this.phase = 'listing';
    this.lastActivity = this.now();
    const items: T[] = [];
    let listVersion = '';
    try {
      let cont: string | undefined;
      do {
        const page = await this.opts.list({ limit: LIST_PAGE_SIZE, ...(cont ? { continue: cont } : {}) });
        if (epoch !== this.epoch || this.stopped) return;
        // Transform page by page, so at most one page of untransformed objects is alive at a time.
        for (const obj of page.items ?? []) items.push(this.transform(obj));
        listVersion = page.metadata?.resourceVersion ?? listVersion;
        cont = page.metadata?.continue || page.metadata?._continue || undefined;
        this.lastActivity = this.now();
      } while (cont);
    } catch (err) {
      if (epoch === this.epoch) this.fail(err, 'list');
      return;
    }
    if (epoch !== this.epoch || this.stopped) return;
    // After a failure or on resync, re-announce everything: events may have been missed.
    const changes = this.store.replace(items, reason === 'restart' || reason === 'resync');
    this.resourceVersion = listVersion;
    this.lastActivity = this.now();
    if (reason !== 'initial') {
      this.opts.log.debug({ resource: this.resource, reason, objects: this.store.size }, 'informer relisted');
    }
    for (const [obj, change] of changes) this.emit(obj, change);
    // Synced once the first list has been announced (client-go's HasSynced): a handler can tell the
    // objects that existed when it started (adds while !synced) from ones created afterwards.
    if (!this.isSynced) {
      this.isSynced = true;
      this.syncWaiters?.resolve();
      this.syncWaiters = undefined;
    }
    void this.watch();
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    const epoch = ++this.epoch;
    this.phase = 'watching';
    const startedAt = this.now();
    let delivered = false;
    const query = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      // Like client-go: spread server-side watch timeouts so replicas do not reconnect in lockstep.
      timeoutSeconds: 300 + Math.floor(Math.random() * 300),
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
    };
    let controller: AbortController;
    try {
      controller = await this.watcher.watch(
        this.opts.path,
        query,
        (type, obj) => {
          if (epoch !== this.epoch) return;
          delivered = true;
          this.onEvent(type, obj);
        },
        (err) => {
          if (epoch !== this.epoch) return;
          this.onWatchDone(err, this.now() - startedAt, delivered);
        },
      );
    } catch (err) {
      if (epoch === this.epoch) this.fail(err, 'watch');
      return;
    }
    if (epoch !== this.epoch) {
      controller.abort();
      return;
    }
    this.watchAbort = controller;
    this.lastActivity = this.now();
  }

  private onEvent(type: string, raw: unknown): void {
    this.lastActivity = this.now();
    if (type === 'ERROR') {
      const status = (raw ?? {}) as { code?: number; message?: string; reason?: string };
      if (isGone(status)) {
        this.opts.log.debug({ resource: this.resource }, 'watch resourceVersion expired (410 event); relisting');
        void this.relist('expired');
      } else {
        this.fail(
          Object.assign(new Error(`watch ERROR event: ${status.message ?? status.reason ?? 'unknown'}`), {
            statusCode: status.code,
          }),
          'watch',
        );
      }
      return;
    }
    const rv = (raw as KubernetesObject | undefined)?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    this.failures = 0;
    if (type === 'BOOKMARK') return;
    let obj: T;
    try {
      obj = this.transform(this.opts.decode ? this.opts.decode(raw) : (raw as T));
    } catch (err) {
      // client-node swallows exceptions thrown from event callbacks; a lost event must be loud.
      this.fail(new Error(`cannot decode ${type} event: ${err instanceof Error ? err.message : String(err)}`), 'watch');
      return;
    }
    if (type === 'ADDED' || type === 'MODIFIED') {
      const change = this.store.upsert(obj);
      if (change) this.emit(obj, change);
    } else if (type === 'DELETED') {
      const removed = this.store.remove(obj);
      this.emit(removed ?? obj, 'delete');
    }
  }

  private onWatchDone(err: unknown, livedMs: number, delivered: boolean): void {
    this.watchAbort = undefined;
    if (this.stopped) return;
    if (isGone(err)) {
      void this.relist('expired');
      return;
    }
    const cleanEnd = !err || (err instanceof Error && err.name === 'TimeoutError');
    if (cleanEnd && (delivered || livedMs >= MIN_HEALTHY_WATCH_MS)) {
      // Server-side timeout or client-side inactivity timeout: resume from the last resourceVersion.
      void this.watch();
      return;
    }
    this.fail(err ?? new Error(`watch closed after ${livedMs} ms without events`), 'watch');
  }

  private checkWatchdog(watchdogMs: number): void {
    if (this.phase !== 'watching' && this.phase !== 'listing') return;
    const silentMs = this.now() - this.lastActivity;
    if (silentMs > watchdogMs) {
      this.fail(new Error(`no watch event, bookmark or reconnect for ${silentMs} ms`), 'watchdog');
    }
  }

  private fail(err: unknown, stage: 'list' | 'watch' | 'watchdog'): void {
    if (this.stopped) return;
    this.epoch++;
    this.abortWatch();
    this.failures++;
    const delay = backoffDelay(this.failures, this.opts.backoff ?? INFORMER_DEFAULTS.backoff);
    this.phase = 'backoff';
    this.opts.log.warn(
      { resource: this.resource, stage, error: apiErrorMessage(err), failures: this.failures, retryInMs: delay },
      'informer failed; restarting after backoff',
    );
    this.opts.onRestart?.(this.resource, stage);
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => {
      this.timers.retry = undefined;
      void this.relist('restart');
    }, delay);
  }

  private abortWatch(): void {
    const c = this.watchAbort;
    this.watchAbort = undefined;
    c?.abort();
  }

  /** The caller's transform, then one string per shared value (kube/intern.ts). */
  private transform(obj: T): T {
    return cachePool.internValues(this.opts.transform ? this.opts.transform(obj) : obj);
  }

  private emit(obj: T, change: ChangeKind): void {
    for (const handler of this.handlers) {
      try {
        const r: unknown = handler(obj, change);
        if (r instanceof Promise) r.catch((err: unknown) => this.handlerFailed(obj, change, err));
      } catch (err) {
        this.handlerFailed(obj, change, err);
      }
    }
  }

  private handlerFailed(obj: T, change: ChangeKind, err: unknown): void {
    // Name and namespace only: the object may be a Secret with key material in it.
    this.opts.log.error(
      {
        resource: this.resource,
        change,
        namespace: obj.metadata?.namespace,
        name: obj.metadata?.name,
        error: err instanceof Error ? err.message : String(err),
      },
      'informer handler threw',
    );
  }
}
