import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LABELS } from '../../api/constants.ts';
import { decodeUsageReport, UsageReportSchema, type UsageReport } from '../../api/usage.ts';
import { createUsageReporter, heartbeatMs, type UsageReportStore } from './reporter.ts';
import { usageConfigMap, usageConfigMapName } from './reporter-kube.ts';
import { SpendLedger } from './spend.ts';
import { UsageTracker } from './tracker.ts';

/** In-memory report store that can be told to fail, and counts concurrent writes. */
function memoryStore(initial?: UsageReport) {
  const s = {
    current: initial,
    peers: [] as UsageReport[],
    written: [] as UsageReport[],
    failReads: false,
    failWrites: false,
    writeDelayMs: 0,
    concurrent: 0,
    maxConcurrent: 0,
  };
  const store: UsageReportStore = {
    async list() {
      if (s.failReads) throw new Error('API server unavailable');
      return { own: s.current, peers: s.peers };
    },
    async write(report) {
      s.concurrent++;
      s.maxConcurrent = Math.max(s.maxConcurrent, s.concurrent);
      try {
        if (s.writeDelayMs) await new Promise((r) => setTimeout(r, s.writeDelayMs));
        if (s.failWrites) throw new Error('API server unavailable');
        s.current = structuredClone(report);
        s.written.push(s.current);
      } finally {
        s.concurrent--;
      }
    },
  };
  return { s, store };
}

const T0 = Date.parse('2025-06-01T00:00:00Z');

describe('usage reporter', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('continues the counts of the previous report of the same gateway', async () => {
    const { s, store } = memoryStore({
      gateway: 'gw-1',
      updatedAt: '2025-05-31T00:00:00.000Z',
      keys: { k1: { requests: 5, credits: 50, lastUsedAt: '2025-05-31T00:00:00.000Z' } },
    });
    const tracker = new UsageTracker();
    const reporter = createUsageReporter({ tracker, store, gatewayId: 'gw-1', intervalMs: 1000 });
    await reporter.start();
    tracker.record('k1', 10, T0);
    tracker.record('k2', 1, T0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.current?.keys).toEqual({
      k1: { requests: 6, credits: 60, lastUsedAt: new Date(T0).toISOString() },
      k2: { requests: 1, credits: 1, lastUsedAt: new Date(T0).toISOString() },
    });
    expect(UsageReportSchema.parse(s.current)).toBeTruthy();
    expect(s.current?.gateway).toBe('gw-1');
    expect(s.current?.instance).toMatch(/^[0-9a-f-]{36}$/);
    await reporter.stop();
  });

  it('writes at most once per interval however many requests, and only a heartbeat when idle', async () => {
    const { s, store } = memoryStore();
    const tracker = new UsageTracker();
    const reporter = createUsageReporter({ tracker, store, gatewayId: 'gw', intervalMs: 1000 });
    await reporter.start();
    for (let tick = 0; tick < 3; tick++) {
      for (let i = 0; i < 1000; i++) tracker.record('k', 1, Date.now());
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(s.written).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(5000);
    expect(s.written).toHaveLength(3);
    // idle: the report is rewritten once per heartbeat (6 intervals), so the operator never folds it
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.written).toHaveLength(4);
    expect(Date.parse(s.written[3]!.updatedAt) - Date.parse(s.written[2]!.updatedAt)).toBe(heartbeatMs(1000));
    await vi.advanceTimersByTimeAsync(5000);
    expect(s.written).toHaveLength(4);
    expect(s.current?.keys.k?.requests).toBe(3000);
    await reporter.stop();
    expect(s.written).toHaveLength(4); // nothing new to flush
  });

  it('heartbeat: an idle replica keeps an existing report fresh, and creates none without usage', async () => {
    const old = { gateway: 'gw', updatedAt: new Date(Date.now() - 3_600_000).toISOString(), keys: {} };
    const seededFromOld = memoryStore(old);
    const events = { written: vi.fn(), writeFailed: vi.fn(), duplicateId: vi.fn() };
    const a = createUsageReporter({
      tracker: new UsageTracker(),
      store: seededFromOld.store,
      gatewayId: 'gw',
      intervalMs: 1000,
      events,
    });
    await a.start();
    await vi.advanceTimersByTimeAsync(1000); // the old report is rewritten at once: it must not look gone
    expect(seededFromOld.s.written).toHaveLength(1);
    expect(events.written).toHaveBeenCalledTimes(1);
    seededFromOld.s.failWrites = true;
    await vi.advanceTimersByTimeAsync(heartbeatMs(1000));
    expect(events.writeFailed).toHaveBeenCalledTimes(1);
    await a.stop();

    const none = memoryStore();
    const b = createUsageReporter({
      tracker: new UsageTracker(),
      store: none.store,
      gatewayId: 'gw2',
      intervalMs: 1000,
    });
    await b.start();
    await vi.advanceTimersByTimeAsync(10 * heartbeatMs(1000));
    expect(none.s.written).toHaveLength(0);
    await b.stop();
  });

  it('writes nothing until the previous report could be read, then reports the sum', async () => {
    const { s, store } = memoryStore({
      gateway: 'gw',
      updatedAt: '2025-05-31T00:00:00.000Z',
      keys: { k: { requests: 100, credits: 100, lastUsedAt: '2025-05-31T00:00:00.000Z' } },
    });
    s.failReads = true;
    const tracker = new UsageTracker();
    const reporter = createUsageReporter({ tracker, store, gatewayId: 'gw', intervalMs: 1000 });
    await reporter.start();
    expect(reporter.seeded).toBe(false);
    tracker.record('k', 1, Date.now());
    await vi.advanceTimersByTimeAsync(5000);
    expect(s.written).toHaveLength(0);
    s.failReads = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(reporter.seeded).toBe(true);
    expect(s.written).toHaveLength(1);
    expect(s.current?.keys.k?.requests).toBe(101);
    await reporter.stop();
  });

  it('retries a failed write on the next interval even with no new traffic', async () => {
    const { s, store } = memoryStore();
    const tracker = new UsageTracker();
    const reporter = createUsageReporter({ tracker, store, gatewayId: 'gw', intervalMs: 1000 });
    await reporter.start();
    tracker.record('k', 2, Date.now());
    s.failWrites = true;
    await vi.advanceTimersByTimeAsync(3000);
    expect(s.written).toHaveLength(0);
    s.failWrites = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.written).toHaveLength(1);
    expect(s.current?.keys.k).toMatchObject({ requests: 1, credits: 2 });
    await reporter.stop();
  });

  it('never runs two writes at once when the API server is slower than the interval', async () => {
    const { s, store } = memoryStore();
    s.writeDelayMs = 3500;
    const tracker = new UsageTracker();
    const reporter = createUsageReporter({ tracker, store, gatewayId: 'gw', intervalMs: 1000 });
    await reporter.start();
    for (let i = 0; i < 10; i++) {
      tracker.record('k', 1, Date.now());
      await vi.advanceTimersByTimeAsync(1000);
    }
    await vi.advanceTimersByTimeAsync(4000);
    expect(s.maxConcurrent).toBe(1);
    expect(s.written.length).toBeLessThanOrEqual(4);
    const stopping = reporter.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    await stopping;
    expect(s.current?.keys.k?.requests).toBe(10);
  });

  it('stop() flushes what happened since the last interval', async () => {
    const { s, store } = memoryStore();
    const tracker = new UsageTracker();
    const reporter = createUsageReporter({ tracker, store, gatewayId: 'gw', intervalMs: 10_000 });
    await reporter.start();
    tracker.record('k', 7, Date.now());
    await reporter.stop();
    expect(s.written).toHaveLength(1);
    expect(s.current?.keys.k).toMatchObject({ requests: 1, credits: 7 });
    tracker.record('k', 7, Date.now());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.written).toHaveLength(1); // stopped: no more interval writes
  });
});

describe('usage ConfigMap', () => {
  it.each([
    ['gateway-7d9f-abcde', 'nemokeys-usage-gateway-7d9f-abcde'],
    ['Host.Example.COM', 'nemokeys-usage-host.example.com'],
    ['my gateway/1_', 'nemokeys-usage-my-gateway-1'],
    ['__', 'nemokeys-usage-gateway'],
  ])('%s → %s', (id, name) => {
    expect(usageConfigMapName(id)).toBe(name);
  });

  it('is labelled for the operator and carries the report in the one codec (api/usage.ts)', () => {
    const report: UsageReport = {
      gateway: 'gw',
      instance: 'i-1',
      updatedAt: new Date(T0).toISOString(),
      keys: {
        k: {
          requests: 3,
          credits: 21,
          lastUsedAt: new Date(T0 - 5).toISOString(),
          spend: { window: 'd20240', credits: 21 },
        },
      },
    };
    const cm = usageConfigMap(report, 'nemokeys-system');
    expect(cm.metadata).toMatchObject({ name: 'nemokeys-usage-gw', namespace: 'nemokeys-system' });
    expect(cm.metadata?.labels?.[LABELS.usage]).toBe('true');
    expect(decodeUsageReport(cm)).toEqual({ ok: true, report });
  });
});

describe('usage reporter shutdown without an API server', () => {
  it('says so when usage could not be reported, and stays quiet when there was none', async () => {
    const errors: string[] = [];
    const logger = { info() {}, warn() {}, error: (_o: object, msg: string) => void errors.push(msg) };
    const { s, store } = memoryStore();
    s.failReads = true;
    const idle = createUsageReporter({ tracker: new UsageTracker(), store, gatewayId: 'gw', logger });
    await idle.start();
    await idle.stop();
    expect(errors).toEqual([]);
    const tracker = new UsageTracker();
    const busy = createUsageReporter({ tracker, store, gatewayId: 'gw', logger });
    await busy.start();
    tracker.record('k', 1, Date.now());
    await busy.stop();
    expect(s.written).toHaveLength(0);
    expect(errors).toEqual(['stopping with usage that could not be reported; it is missing from ApiKey status']);
  });
});

describe('usage reporter: budgets, bounds and identity', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const LAST = new Date(T0).toISOString();
  const withSpend = (keyId: string, credits: number) => ({
    [keyId]: { requests: 1, credits, lastUsedAt: LAST, spend: { window: 'd1', credits } },
  });
  const peer = (credits: number): UsageReport => ({
    gateway: 'gw-peer',
    updatedAt: LAST,
    keys: withSpend('kp', credits),
  });
  const ledgerFor = () => new SpendLedger((id) => (id === 'k' || id === 'kp' ? 'ns/k' : undefined));

  it("continues its own spend and refreshes the peers' spend every interval", async () => {
    const { s, store } = memoryStore({ gateway: 'gw', updatedAt: LAST, keys: withSpend('k', 40) });
    s.peers = [peer(10)];
    const ledger = ledgerFor();
    const tracker = new UsageTracker();
    const reporter = createUsageReporter({ tracker, ledger, store, gatewayId: 'gw', intervalMs: 1000 });
    await reporter.start();
    expect([ledger.seeded('ns/k', 'd1'), ledger.own('ns/k', 'd1'), ledger.peers('ns/k', 'd1')]).toEqual([40, 40, 10]);
    s.peers = [peer(25)];
    tracker.record('k', 2, T0);
    ledger.charge('k', 'ns/k', 'd1', 2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(ledger.peers('ns/k', 'd1')).toBe(25);
    expect(s.current?.keys.k).toEqual({
      requests: 2,
      credits: 42,
      lastUsedAt: LAST,
      spend: { window: 'd1', credits: 42 },
    });
    await reporter.stop();
  });

  it('drops key ids and spend whose records are gone, but only once the records are synced', async () => {
    const { s, store } = memoryStore({
      gateway: 'gw',
      updatedAt: LAST,
      keys: { ...withSpend('gone', 1), ...withSpend('live', 2) },
    });
    let synced = false;
    const retain = () =>
      synced
        ? { keyId: (id: string) => id === 'live', window: (id: string) => (id === 'live' ? 'd1' : undefined) }
        : undefined;
    const tracker = new UsageTracker();
    const ledger = new SpendLedger(() => undefined);
    const reporter = createUsageReporter({ tracker, ledger, store, gatewayId: 'gw', intervalMs: 1000, retain });
    await reporter.start();
    tracker.record('live', 1, T0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(Object.keys(s.current?.keys ?? {}).sort()).toEqual(['gone', 'live']);
    expect(s.current?.keys.gone?.spend).toEqual({ window: 'd1', credits: 1 });
    synced = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(Object.keys(s.current?.keys ?? {})).toEqual(['live']);
    expect(s.current?.keys.live?.spend).toEqual({ window: 'd1', credits: 2 });
    await reporter.stop();
  });

  it('says so when another live process writes under the same gateway id', async () => {
    const errors: string[] = [];
    const logger = { info() {}, warn() {}, error: (_o: object, msg: string) => void errors.push(msg) };
    const { s, store } = memoryStore();
    const tracker = new UsageTracker();
    const reporter = createUsageReporter({ tracker, store, gatewayId: 'gw', intervalMs: 1000, logger });
    await reporter.start();
    tracker.record('k', 1, T0);
    await vi.advanceTimersByTimeAsync(2000);
    expect(reporter.duplicateId).toBe(false);
    s.current = { ...s.current!, instance: 'someone-else' };
    tracker.record('k', 1, T0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(reporter.duplicateId).toBe(true);
    expect(errors.join('\n')).toMatch(/another live gateway writes its usage report under the same gateway id gw/);
    await reporter.stop();
  });
});
