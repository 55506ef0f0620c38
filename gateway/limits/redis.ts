import { Redis, type RedisOptions } from 'ioredis';
import type { KeyRecord } from '../../api/record.ts';
import { admitted, unlimited, type Admission, type Limiter, type Outcome, type Reservation } from './limiter.ts';
import { budgetWindow, minuteWindow, retryAfterSeconds } from './windows.ts';

// Counters shared by every gateway replica through one Redis. Each decision is ONE Lua script, so
// check-and-count is atomic across processes: N replicas enforce one rate limit and one budget
// exactly. Both keys of a limitsKey share a hash tag ({...}) so the scripts also work on a Redis
// Cluster. Every key expires: minute windows after 2 minutes, budget windows a day after their period
// (lifetime budgets 400 days after their last charge, so abandoned keys do not live forever).
// Errors propagate: the app answers 503 rather than letting traffic through unmetered.
//
// A Redis that lost its data (restarted without persistence, flushed, failed over to an empty replica)
// must not hand out a fresh budget. A budget counter is a hash {c: credits, s: seeded}: the first
// admission that finds no `s` adds the spend the usage reports know of (`baseline`, see
// gateway/usage/spend.ts) in the same script, so exactly one replica seeds it (docs/design.md §4).
// Rate-limit windows are not seeded: a lost Redis resets the current minute.

const ADMIT_LUA = `
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local credits = tonumber(ARGV[3])
local estimate = tonumber(ARGV[4])
if rpm > 0 or tpm > 0 then
  local v = redis.call('HMGET', KEYS[1], 'r', 't')
  local r = tonumber(v[1]) or 0
  local t = tonumber(v[2]) or 0
  if (rpm > 0 and r >= rpm) or (tpm > 0 and t >= tpm) then return 1 end
end
if credits > 0 then
  if redis.call('HEXISTS', KEYS[2], 's') == 0 then
    redis.call('HINCRBY', KEYS[2], 'c', tonumber(ARGV[7]))
    redis.call('HSET', KEYS[2], 's', 1)
    redis.call('EXPIRE', KEYS[2], ARGV[6])
  end
  local b = tonumber(redis.call('HGET', KEYS[2], 'c')) or 0
  if b >= credits then return 2 end
end
if rpm > 0 or tpm > 0 then
  if rpm > 0 then redis.call('HINCRBY', KEYS[1], 'r', 1) end
  if tpm > 0 and estimate > 0 then redis.call('HINCRBY', KEYS[1], 't', estimate) end
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
if credits > 0 and estimate > 0 then
  redis.call('HINCRBY', KEYS[2], 'c', estimate)
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
return 0
`;

// Replaces a reservation with the real cost, in the windows it was made in. A counter that expired
// meanwhile is not brought back (a negative delta would otherwise create a negative counter).
const SETTLE_LUA = `
local delta = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[2] == '1' and delta ~= 0 then
    if tonumber(redis.call('HINCRBY', KEYS[1], 't', delta)) < 0 then redis.call('HSET', KEYS[1], 't', 0) end
  end
  if ARGV[4] == '1' and (tonumber(redis.call('HGET', KEYS[1], 'r')) or 0) > 0 then redis.call('HINCRBY', KEYS[1], 'r', -1) end
elseif ARGV[2] == '1' and delta > 0 then
  redis.call('HINCRBY', KEYS[1], 't', delta)
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
if ARGV[3] == '1' and delta ~= 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 then
    if tonumber(redis.call('HINCRBY', KEYS[2], 'c', delta)) < 0 then redis.call('HSET', KEYS[2], 'c', 0) end
  elseif delta > 0 then
    redis.call('HINCRBY', KEYS[2], 'c', delta)
    redis.call('EXPIRE', KEYS[2], ARGV[6])
  end
end
return 0
`;

const RATE_TTL_S = 120;
const DAY_S = 86_400;
const LIFETIME_TTL_S = 400 * DAY_S;

type Arg = string | number;
interface LimiterCommands {
  nemokeysAdmit(rateKey: string, budgetKey: string, ...args: Arg[]): Promise<number>;
  nemokeysSettle(rateKey: string, budgetKey: string, ...args: Arg[]): Promise<number>;
}

export interface RedisLimiterOptions {
  /** Prefix of every key this limiter writes (default "nemokeys:"). */
  keyPrefix?: string;
  /** Connection errors (ioredis keeps reconnecting; requests meanwhile get 503). Default: ignored. */
  onError?: (err: Error) => void;
  /** Credits already spent in this budget window as the usage reports know it; seeds an empty counter. */
  baseline?: (limitsKey: string, window: string) => number;
}

export class RedisLimiter implements Limiter {
  readonly #redis: Redis;
  readonly #commands: LimiterCommands;
  readonly #prefix: string;
  readonly #baseline: (limitsKey: string, window: string) => number;

  /** Takes an ioredis client; the caller owns its lifecycle unless close() is called. */
  constructor(redis: Redis, opts: RedisLimiterOptions = {}) {
    this.#redis = redis;
    this.#prefix = opts.keyPrefix ?? 'nemokeys:';
    this.#baseline = opts.baseline ?? (() => 0);
    redis.defineCommand('nemokeysAdmit', { numberOfKeys: 2, lua: ADMIT_LUA });
    redis.defineCommand('nemokeysSettle', { numberOfKeys: 2, lua: SETTLE_LUA });
    this.#commands = redis as unknown as LimiterCommands;
  }

  /**
   * Connects with options suited to the request path: no offline queue and one retry, so a Redis
   * outage turns into fast 503s instead of requests piling up behind a reconnect.
   */
  static async connect(url: string, opts: RedisLimiterOptions & { redis?: RedisOptions } = {}): Promise<RedisLimiter> {
    const redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      lazyConnect: true,
      ...opts.redis,
    });
    // without a listener ioredis reports every failed reconnect as an unhandled error event
    redis.on('error', opts.onError ?? (() => {}));
    await redis.connect();
    return new RedisLimiter(redis, opts);
  }

  #keys(limitsKey: string, record: KeyRecord, nowMs: number) {
    const tag = `${this.#prefix}{${limitsKey}}`;
    const minute = minuteWindow(nowMs);
    const budget = record.budget === undefined ? undefined : budgetWindow(record.budget, nowMs);
    return {
      minute,
      budget,
      rateKey: `${tag}:rate:${minute.id}`,
      // `credits`, not the `budget` string counters of earlier versions (a different Redis type)
      budgetKey: `${tag}:credits:${budget?.id ?? 'none'}`,
    };
  }

  async admit(limitsKey: string, record: KeyRecord, estimate: number, nowMs: number): Promise<Admission> {
    const amount = Math.max(0, Math.ceil(estimate));
    if (unlimited(record)) return admitted(nowMs, amount);
    const k = this.#keys(limitsKey, record, nowMs);
    const verdict = await this.#commands.nemokeysAdmit(
      k.rateKey,
      k.budgetKey,
      record.rateLimit?.requestsPerMinute ?? 0,
      record.rateLimit?.tokensPerMinute ?? 0,
      record.budget?.credits ?? 0,
      amount,
      RATE_TTL_S,
      this.#budgetTtl(k.budget, nowMs),
      k.budget === undefined ? 0 : Math.max(0, Math.floor(this.#baseline(limitsKey, k.budget.id))),
    );
    if (verdict === 0) return admitted(nowMs, amount);
    if (verdict === 1)
      return { ok: false, reason: 'rate_limit', retryAfterS: retryAfterSeconds(k.minute.endsMs, nowMs) };
    return { ok: false, reason: 'budget', retryAfterS: retryAfterSeconds(k.budget?.endsMs, nowMs) };
  }

  async settle(
    limitsKey: string,
    record: KeyRecord,
    reservation: Reservation,
    outcome: Outcome,
    nowMs: number,
  ): Promise<void> {
    if (unlimited(record)) return;
    const delta = Math.max(0, Math.ceil(outcome.cost)) - reservation.amount;
    const tokens = record.rateLimit?.tokensPerMinute !== undefined;
    if (delta === 0 && !outcome.refundRequest) return;
    const k = this.#keys(limitsKey, record, reservation.atMs);
    await this.#commands.nemokeysSettle(
      k.rateKey,
      k.budgetKey,
      delta,
      tokens ? '1' : '0',
      record.budget !== undefined ? '1' : '0',
      outcome.refundRequest && record.rateLimit?.requestsPerMinute !== undefined ? '1' : '0',
      RATE_TTL_S,
      this.#budgetTtl(k.budget, nowMs),
    );
  }

  #budgetTtl(budget: { endsMs: number | undefined } | undefined, nowMs: number): number {
    return budget?.endsMs === undefined ? LIFETIME_TTL_S : Math.ceil((budget.endsMs - nowMs) / 1000) + DAY_S;
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
