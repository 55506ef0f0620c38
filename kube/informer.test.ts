import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import type { KubernetesObject } from '@kubernetes/client-node';
import { createInformer, LIST_PAGE_SIZE, type ListResult, type WatchLike } from './informer.ts';

type Obj = KubernetesObject;
const obj = (name: string, rv: string, ns = 'ns'): Obj => ({ metadata: { name, namespace: ns, resourceVersion: rv } });

interface FakeWatch {
  query: Record<string, unknown>;
  emit: (type: string, o: unknown) => void;
  done: (err: unknown) => void;
  controller: AbortController;
}

function harness(opts: { relistIntervalMs?: number; watchdogMs?: number } = {}) {
  const watches: FakeWatch[] = [];
  const watcher: WatchLike = {
    async watch(_path, query, onEvent, done) {
      const controller = new AbortController();
      watches.push({ query, emit: onEvent, done, controller });
      return controller;
    },
  };
  // Each list() call takes the next scripted answer; the last one repeats.
  const answers: Array<ListResult<Obj> | Error> = [];
  let lists = 0;
  const list = async () => {
    const a = answers.length > 1 ? answers.shift()! : answers[0]!;
    lists++;
    if (a instanceof Error) throw a;
    return a;
  };
  const logs: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => logs.push(JSON.parse(s)) });
  const restarts: string[] = [];
  const informer = createInformer<Obj>({
    watcher,
    list,
    log,
    path: '/api/v1/namespaces/ns/secrets',
    labelSelector: 'app=x',
    relistIntervalMs: opts.relistIntervalMs ?? 0,
    watchdogMs: opts.watchdogMs ?? 0,
    backoff: { baseMs: 100, maxMs: 1000 },
    onRestart: (_r, stage) => restarts.push(stage),
  });
  const seen: string[] = [];
  informer.onChange((o, change) => seen.push(`${change}:${o.metadata?.name}@${o.metadata?.resourceVersion}`));
  return {
    informer,
    watches,
    answers,
    logs,
    restarts,
    seen,
    lists: () => lists,
    lastWatch: () => watches.at(-1)!,
    take: () => seen.splice(0),
  };
}

const list = (rv: string, ...items: Obj[]): ListResult<Obj> => ({ items, metadata: { resourceVersion: rv } });
const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('createInformer', () => {
  it('start() resolves after the first list, announces adds and watches from the list resourceVersion', async () => {
    const h = harness();
    h.answers.push(list('10', obj('a', '5'), obj('b', '6')));
    let resolved = false;
    const started = h.informer.start().then(() => {
      resolved = true;
    });
    expect(h.informer.synced).toBe(false);
    await flush();
    await started;
    expect(resolved).toBe(true);
    expect(h.informer.synced).toBe(true);
    expect(h.take()).toEqual(['add:a@5', 'add:b@6']);
    expect(h.informer.get('ns', 'a')?.metadata?.resourceVersion).toBe('5');
    expect(
      h.informer
        .list('ns')
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(h.informer.list('other')).toEqual([]);
    expect(h.lastWatch().query).toMatchObject({
      resourceVersion: '10',
      labelSelector: 'app=x',
      allowWatchBookmarks: true,
    });
    h.informer.stop();
  });

  it('is synced once the first list has been announced: adds before it existed at the start, later ones are new', async () => {
    const h = harness();
    const syncedAtAdd: string[] = [];
    h.informer.onChange((o, change) => syncedAtAdd.push(`${change}:${o.metadata?.name}:${h.informer.synced}`));
    h.answers.push(list('10', obj('a', '5')));
    await Promise.all([h.informer.start(), flush()]);
    h.lastWatch().emit('ADDED', obj('b', '11'));
    expect(syncedAtAdd).toEqual(['add:a:false', 'add:b:true']);
    h.informer.stop();
  });

  it('applies watch events to the cache; unchanged resourceVersions are not re-announced', async () => {
    const h = harness();
    h.answers.push(list('10', obj('a', '5')));
    await h.informer.start();
    h.take();
    const w = h.lastWatch();
    const table: Array<[string, Obj, string[]]> = [
      ['ADDED', obj('c', '11'), ['add:c@11']],
      ['MODIFIED', obj('a', '12'), ['update:a@12']],
      ['MODIFIED', obj('a', '12'), []],
      ['DELETED', obj('c', '13'), ['delete:c@11']],
      ['BOOKMARK', { metadata: { resourceVersion: '20' } }, []],
    ];
    for (const [type, o, expected] of table) {
      w.emit(type, o);
      expect(h.take(), `${type} ${o.metadata?.name}`).toEqual(expected);
    }
    expect(h.informer.get('ns', 'c')).toBeUndefined();
    expect(h.informer.get('ns', 'a')?.metadata?.resourceVersion).toBe('12');
    // A server-side close after a healthy watch resumes from the bookmark, without relisting.
    await vi.advanceTimersByTimeAsync(5_000);
    w.done(null);
    await flush();
    expect(h.lists()).toBe(1);
    expect(h.watches).toHaveLength(2);
    expect(h.lastWatch().query.resourceVersion).toBe('20');
    expect(h.restarts).toEqual([]);
    h.informer.stop();
  });

  it.each([
    [
      'an ERROR event with code 410',
      (w: FakeWatch) => w.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired' }),
    ],
    [
      'an HTTP 410 when (re)connecting',
      (w: FakeWatch) => w.done(Object.assign(new Error('Gone'), { statusCode: 410 })),
    ],
  ])('relists on %s without counting a restart, announcing only the differences', async (_name, expire) => {
    const h = harness();
    h.answers.push(list('10', obj('a', '5'), obj('b', '6')), list('30', obj('a', '5'), obj('c', '25')));
    await h.informer.start();
    h.take();
    expire(h.lastWatch());
    await flush();
    expect(h.lists()).toBe(2);
    expect(h.take()).toEqual(['add:c@25', 'delete:b@6']);
    expect(h.lastWatch().query.resourceVersion).toBe('30');
    expect(h.restarts).toEqual([]);
    h.informer.stop();
  });

  it('restarts after other errors with capped exponential backoff and re-announces every object', async () => {
    const h = harness();
    const down = Object.assign(new Error('fetch failed'), { cause: new Error('connect ECONNREFUSED') });
    h.answers.push(
      list('10', obj('a', '5'), obj('b', '6')),
      down,
      down,
      down,
      down,
      list('40', obj('a', '5'), obj('b', '7')),
    );
    await h.informer.start();
    h.take();
    const first = h.lastWatch();
    first.done(Object.assign(new Error('Internal Server Error'), { statusCode: 500 }));
    await flush();
    expect(first.controller.signal.aborted).toBe(true);
    // Retry delays: 100, 200, 400, 800, 1000 (capped), then the list succeeds.
    for (const delay of [100, 200, 400, 800, 1000]) {
      const before = h.lists();
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(h.lists(), `nothing before ${delay} ms`).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(h.lists()).toBe(before + 1);
    }
    expect(h.restarts).toEqual(['watch', 'list', 'list', 'list', 'list']);
    expect(h.take()).toEqual(['update:a@5', 'update:b@7']);
    expect(h.informer.synced).toBe(true);
    expect(h.lastWatch().query.resourceVersion).toBe('40');
    const warn = h.logs.find((l) => l.msg === 'informer failed; restarting after backoff' && l.stage === 'list');
    expect(warn?.error).toContain('ECONNREFUSED');
    // Events of the watch that failed are ignored: it belongs to an older attempt.
    first.emit('ADDED', obj('zombie', '99'));
    expect(h.informer.get('ns', 'zombie')).toBeUndefined();
    h.informer.stop();
  });

  it('treats a watch that closes at once without events as a failure (no hot reconnect loop)', async () => {
    const h = harness();
    h.answers.push(list('10'));
    await h.informer.start();
    h.lastWatch().done(null);
    await flush();
    expect(h.restarts).toEqual(['watch']);
    expect(h.watches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(h.lists()).toBe(2);
    expect(h.watches).toHaveLength(2);
    h.informer.stop();
  });

  it('restarts a watch that went silent (watchdog)', async () => {
    const h = harness({ watchdogMs: 1000 });
    h.answers.push(list('10', obj('a', '5')));
    await h.informer.start();
    h.take();
    await vi.advanceTimersByTimeAsync(800);
    h.lastWatch().emit('BOOKMARK', { metadata: { resourceVersion: '11' } });
    await vi.advanceTimersByTimeAsync(800);
    expect(h.restarts).toEqual([]);
    await vi.advanceTimersByTimeAsync(500);
    expect(h.restarts).toEqual(['watchdog']);
    await vi.advanceTimersByTimeAsync(100);
    expect(h.lists()).toBe(2);
    expect(h.take()).toEqual(['update:a@5']);
    h.informer.stop();
  });

  it('relists periodically and announces every object as an update', async () => {
    const h = harness({ relistIntervalMs: 60_000 });
    h.answers.push(list('10', obj('a', '5')));
    await h.informer.start();
    h.take();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(h.lists()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.lists()).toBe(2);
    expect(h.take()).toEqual(['update:a@5']);
    expect(h.watches[0]!.controller.signal.aborted).toBe(true);
    expect(h.restarts).toEqual([]);
    h.informer.stop();
  });

  it('survives handlers that throw or reject, and still calls the other handlers', async () => {
    const h = harness();
    h.answers.push(list('10'));
    h.informer.onChange(() => {
      throw new Error('boom');
    });
    h.informer.onChange(async () => {
      throw new Error('async boom');
    });
    const after: string[] = [];
    h.informer.onChange((o) => after.push(o.metadata!.name!));
    await h.informer.start();
    h.lastWatch().emit('ADDED', obj('a', '11'));
    h.lastWatch().emit('ADDED', obj('b', '12'));
    await flush();
    expect(after).toEqual(['a', 'b']);
    expect(h.informer.list().length).toBe(2);
    const errors = h.logs.filter((l) => l.msg === 'informer handler threw').map((l) => l.error);
    expect(errors).toEqual(['boom', 'boom', 'async boom', 'async boom']);
    h.informer.stop();
  });

  it('stop() aborts the watch, cancels retries and rejects a start that never synced', async () => {
    const h = harness();
    h.answers.push(new Error('forbidden'));
    const started = h.informer.start();
    const outcome = started.then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await flush();
    expect(h.restarts).toEqual(['list']);
    h.informer.stop();
    expect(await outcome).toMatch(/stopped before its first sync/);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.lists()).toBe(1);

    const g = harness();
    g.answers.push(list('1'));
    await g.informer.start();
    g.informer.stop();
    await flush();
    expect(g.lastWatch().controller.signal.aborted).toBe(true);
    g.lastWatch().done(null);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(g.watches).toHaveLength(1);
    expect(g.lists()).toBe(1);
  });

  it('counts a watch that cannot even be opened (e.g. credentials failing) as a failure', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const restarts: string[] = [];
    let attempts = 0;
    const informer = createInformer<Obj>({
      watcher: {
        watch: async () => {
          attempts++;
          throw new Error('exec plugin failed');
        },
      },
      list: async () => list('1', obj('a', '1')),
      log: pino({ level: 'debug' }, { write: (s: string) => logs.push(JSON.parse(s)) }),
      path: '/x',
      relistIntervalMs: 0,
      watchdogMs: 0,
      backoff: { baseMs: 100, maxMs: 100 },
      onRestart: (_r, stage) => restarts.push(stage),
    });
    await informer.start();
    await flush();
    expect(restarts).toEqual(['watch']);
    await vi.advanceTimersByTimeAsync(100);
    expect(attempts).toBe(2);
    expect(logs.some((l) => l.error === 'exec plugin failed')).toBe(true);
    informer.stop();
  });

  it('a watch event that cannot be decoded forces a restart instead of being dropped silently', async () => {
    const restarts: string[] = [];
    let watchCb: ((type: string, o: unknown) => void) | undefined;
    let lists = 0;
    const informer = createInformer<Obj>({
      watcher: {
        watch: async (_p, _q, onEvent) => {
          watchCb = onEvent;
          return new AbortController();
        },
      },
      list: async () => {
        lists++;
        return list('1', obj('a', '1'));
      },
      decode: (raw) => {
        if ((raw as Obj).metadata?.name === 'bad') throw new Error('unknown shape');
        return raw as Obj;
      },
      log: pino({ level: 'silent' }),
      path: '/x',
      relistIntervalMs: 0,
      watchdogMs: 0,
      backoff: { baseMs: 100, maxMs: 100 },
      onRestart: (_r, stage) => restarts.push(stage),
    });
    await informer.start();
    await flush();
    watchCb!('ADDED', obj('bad', '2'));
    expect(restarts).toEqual(['watch']);
    await vi.advanceTimersByTimeAsync(100);
    expect(lists).toBe(2);
    informer.stop();
  });

  it('lists in pages (limit + continue) and transforms every listed and watched object before caching it', async () => {
    const pages: Array<{ limit: number; continue?: string }> = [];
    const watches: Array<{ emit: (type: string, o: unknown) => void }> = [];
    const watcher: WatchLike = {
      async watch(_path, _query, onEvent) {
        watches.push({ emit: onEvent });
        return new AbortController();
      },
    };
    const informer = createInformer<Obj>({
      watcher,
      log: pino({ level: 'silent' }),
      path: '/x',
      relistIntervalMs: 0,
      watchdogMs: 0,
      list: async (page) => {
        pages.push(page);
        return page.continue === undefined
          ? { items: [obj('a', '1'), obj('b', '2')], metadata: { resourceVersion: '9', continue: 'p2' } }
          : { items: [obj('c', '3')], metadata: { resourceVersion: '9' } };
      },
      transform: (o) => ({ metadata: { ...o.metadata, labels: { compact: 'yes' } } }),
    });
    const seen: string[] = [];
    informer.onChange((o, change) => seen.push(`${change}:${o.metadata?.name}:${o.metadata?.labels?.compact}`));
    await informer.start();
    expect(pages).toEqual([{ limit: LIST_PAGE_SIZE }, { limit: LIST_PAGE_SIZE, continue: 'p2' }]);
    expect(seen).toEqual(['add:a:yes', 'add:b:yes', 'add:c:yes']);
    watches[0]!.emit('ADDED', obj('d', '10'));
    expect(informer.get('ns', 'd')?.metadata?.labels).toEqual({ compact: 'yes' });
    informer.stop();
  });
});
