// Budgets hold across restarts and replicas (docs/design.md §4), on the real API server with the real
// operator (records from its renderer), real `nemokeys gateway` processes, a real upstream and a real
// redis-server. Each case drives an ApiKey's budget to exhaustion with the openai SDK, breaks something
// (SIGTERM, SIGKILL, a Redis restart without persistence, traffic spread over two in-process replicas)
// and keeps sending: the budget must stay exhausted. Each case prints its overshoot — credits admitted
// beyond the budget — and asserts it stays within the bound the README states for that mode.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { GROUP, KINDS, VERSION } from '../api/constants.ts';
import { sleep } from '../controlplane/process.ts';
import { adminKubeConfig, clusterKubeconfig, hasCluster } from './support/cluster.ts';
import { startGatewayProcess, type GatewayProcess, type GatewayProcessOptions } from './support/gateway-process.ts';
import { createReadyKey, createTeam, realTimeClock, startTestOperator, type TestOperator } from './support/operator.ts';
import { requireRedis, startRedis, type RedisProcess } from './support/redis.ts';
import { startUpstream, type TestUpstream } from './support/upstream.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `budgets-${RUN}`;
const RECORDS = `budgets-records-${RUN}`;
const COST = 10; // credits per request: the upstream reports usage.total_tokens = 10
const BUDGET = 300;
const INTERVAL_MS = 1000; // --report-interval 1s
/** A report write's own latency on top of the interval (generous for a loaded 2-core machine). */
const WRITE_SLACK_MS = 1000;
const haveRedis = requireRedis();

/** Requests against one budget and what became of them. */
class Traffic {
  readonly log: Array<{ at: number; status: number; credits: number; code?: string }> = [];
  readonly key: string;
  constructor(key: string) {
    this.key = key;
  }

  /** One chat completion through `url`; a 503 (gateway still reading the reports) is retried, not counted. */
  async send(url: string): Promise<number> {
    const client = new OpenAI({ apiKey: this.key, baseURL: `${url}/v1`, maxRetries: 0, timeout: 10_000 });
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
        });
        this.log.push({ at: Date.now(), status: 200, credits: res.usage?.total_tokens ?? 1 });
        return 200;
      } catch (err) {
        if (!(err instanceof OpenAI.APIError) || err.status === undefined) throw err;
        if ((err.status === 503 || err.status === undefined) && attempt < 100) {
          await sleep(100);
          continue;
        }
        this.log.push({ at: Date.now(), status: err.status, credits: 0, code: String(err.code) });
        return err.status;
      }
    }
  }

  /**
   * Sends through `urls` in turn, `paceMs` apart, until three in a row are denied for the budget (one
   * denial alone may be a request still in flight holding its reservation, not an exhausted budget).
   */
  async untilDenied(urls: string[], paceMs: number): Promise<void> {
    let denied = 0;
    for (let i = 0; i < 1000; i++) {
      denied = (await this.send(urls[i % urls.length]!)) === 429 ? denied + 1 : 0;
      if (denied === 3) return;
      await sleep(paceMs);
    }
    throw new Error('never denied');
  }

  /** Sends `n` requests through `urls` in turn, `paceMs` apart; returns their statuses. */
  async burst(urls: string[], n: number, paceMs: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      out.push(await this.send(urls[i % urls.length]!));
      await sleep(paceMs);
    }
    return out;
  }

  get admitted(): number {
    return this.log.reduce((n, r) => n + r.credits, 0);
  }
  get overshoot(): number {
    return Math.max(0, this.admitted - BUDGET);
  }
  /** Credits admitted in (fromMs, toMs]. */
  creditsBetween(fromMs: number, toMs: number): number {
    return this.log.filter((r) => r.at > fromMs && r.at <= toMs).reduce((n, r) => n + r.credits, 0);
  }
  /** When the admitted credits first reached the budget. */
  get exhaustedAt(): number {
    let sum = 0;
    for (const r of this.log) {
      sum += r.credits;
      if (sum >= BUDGET) return r.at;
    }
    throw new Error('budget never reached');
  }
  deniedForBudget(statuses: number[]): boolean {
    const tail = this.log.slice(-statuses.length);
    return statuses.every((s) => s === 429) && tail.every((r) => r.code === 'insufficient_quota');
  }
}

const report = (what: string, t: Traffic, bound: number) =>
  process.stdout.write(
    `[budget-durability] ${what}: budget ${BUDGET}, admitted ${t.admitted}, overshoot ${t.overshoot} credits (bound ${bound})\n`,
  );

describe.skipIf(!hasCluster())('budgets across restarts and replicas (real gateway processes)', () => {
  let kc: KubeConfig;
  let op: TestOperator;
  let upstream: TestUpstream;
  const gateways: GatewayProcess[] = [];

  const gateway = async (gatewayId: string, extra: Partial<GatewayProcessOptions> = {}) => {
    const gw = await startGatewayProcess({
      upstream: upstream.url,
      kubeconfig: clusterKubeconfig(),
      recordsNamespace: RECORDS,
      gatewayId: `${gatewayId}-${RUN}`,
      reportInterval: `${INTERVAL_MS / 1000}s`,
      ...extra,
    });
    gateways.push(gw);
    return gw;
  };

  /** An ApiKey with a lifetime budget (no period boundary can split a test), Ready; returns its key. */
  const budgetKey = async (name: string): Promise<string> =>
    (await createReadyKey(kc, NS, name, { team: 'team', budget: { credits: BUDGET, period: 'Never' } })).key;

  beforeAll(async () => {
    kc = adminKubeConfig();
    op = await startTestOperator({ recordsNamespace: RECORDS, clock: realTimeClock(), watchNamespace: NS });
    await createTeam(kc, NS, 'team');
    upstream = await startUpstream();
    upstream.totalTokens = COST;
  });
  afterAll(async () => {
    for (const gw of gateways) await gw.kill('SIGKILL');
    await upstream?.close();
    await op?.stop();
  });

  it('stays exhausted across a SIGTERM restart (the final report is flushed): overshoot 0', async () => {
    const t = new Traffic(await budgetKey('sigterm'));
    const first = await gateway('term');
    await t.untilDenied([first.url], 0);
    expect(t.admitted).toBe(BUDGET);
    expect(await first.kill('SIGTERM')).toBe(0);
    const second = await gateway('term');
    expect(t.deniedForBudget(await t.burst([second.url], 10, 0))).toBe(true);
    report('SIGTERM restart', t, 0);
    expect(t.overshoot).toBe(0);
    // what the user sees: the ApiKey's status says the budget was spent once, not twice
    const credits = async () =>
      (
        (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          plural: KINDS.apiKey.plural,
          namespace: NS,
          name: 'sigterm',
        })) as { status?: ApiKeyStatus }
      ).status?.usage?.credits;
    await expect.poll(credits, { timeout: 30_000, interval: 200 }).toBe(BUDGET);
  }, 90_000);

  it('stays exhausted across a SIGKILL: overshoot at most what was admitted since the last report', async () => {
    const t = new Traffic(await budgetKey('sigkill'));
    const first = await gateway('kill');
    await t.untilDenied([first.url], 100);
    const killedAt = Date.now();
    await first.kill('SIGKILL');
    const bound = t.creditsBetween(killedAt - INTERVAL_MS - WRITE_SLACK_MS, killedAt);
    const second = await gateway('kill');
    await t.untilDenied([second.url], 0);
    expect(t.deniedForBudget(await t.burst([second.url], 10, 0))).toBe(true);
    report('SIGKILL restart', t, bound);
    expect(bound).toBeLessThan(BUDGET); // the bound means something: it is not the whole budget
    expect(t.overshoot).toBeLessThanOrEqual(bound);
  }, 90_000);

  it.skipIf(!haveRedis)(
    'with Redis: stays exhausted across a Redis restart without persistence',
    async () => {
      let redis: RedisProcess | undefined;
      try {
        redis = await startRedis();
        const t = new Traffic(await budgetKey('redis'));
        const a = await gateway('redis-a', { redis: redis.url });
        const b = await gateway('redis-b', { redis: redis.url });
        await t.untilDenied([a.url, b.url], 150);
        expect(t.overshoot).toBe(0); // one shared counter: exact while Redis is up
        const lostAt = Date.now();
        await redis.restart();
        // The replica that seeds the empty counter knows its own spend exactly and the other's as of
        // its last report, read up to one interval later: at most two intervals of spend are missing.
        const bound = t.creditsBetween(lostAt - 2 * INTERVAL_MS - WRITE_SLACK_MS, lostAt);
        await t.untilDenied([a.url, b.url], 0);
        expect(t.deniedForBudget(await t.burst([a.url, b.url], 10, 0))).toBe(true);
        report('Redis restart (no persistence), 2 replicas', t, bound);
        expect(bound).toBeLessThan(BUDGET);
        expect(t.overshoot).toBeLessThanOrEqual(bound);
      } finally {
        await redis?.stop();
      }
    },
    90_000,
  );

  it('two in-process replicas, traffic spread over both: one budget, overshoot within two intervals of spend', async () => {
    const t = new Traffic(await budgetKey('replicas'));
    const a = await gateway('mem-a');
    const b = await gateway('mem-b');
    await t.untilDenied([a.url, b.url], 200);
    // Keep sending for a few intervals: a replica may admit until the other's report reached it.
    await t.burst([a.url, b.url], 40, 100);
    const exhaustedAt = t.exhaustedAt;
    const bound = t.creditsBetween(exhaustedAt - 2 * INTERVAL_MS - WRITE_SLACK_MS, exhaustedAt);
    expect(t.deniedForBudget(await t.burst([a.url, b.url], 10, 0))).toBe(true);
    report('2 in-process replicas, round robin', t, bound);
    expect(bound).toBeLessThan(BUDGET);
    expect(t.overshoot).toBeLessThanOrEqual(bound);
  }, 90_000);
});
