import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KeyRecord } from '../api/record.ts';
import type { DenialReason } from './errors.ts';
import type { RecordStore } from './records/store.ts';

// Gateway metrics on their own prom-client Registry. The names are a contract: the Helm chart's alert
// rules and Grafana dashboard query them. Labels are bounded: endpoint is a known route or "other",
// model a scope-checked name (capped), and per-key labels can be switched off for large fleets.
// Nothing here ever sees a key: only key ids, which are public identifiers.

export interface GatewayMetricsOptions {
  /** Label series with apikey / key_id (default true); false keeps cardinality at team level. */
  perKeyLabels?: boolean;
  /**
   * Distinct model label values per ApiKey, for models its scope does not name (a key allowed "*"),
   * before new ones are reported as "other" (default 20). Models a scope names are always labelled:
   * the records bound them. Per key, so one key cannot push every other key's models into "other".
   */
  maxModelsPerKey?: number;
}

interface RecordLabels {
  key: Record<string, string>;
  /** "code endpoint model" → labels of nemokeys_gateway_requests_total */
  requests: Map<string, Record<string, string>>;
  /** reason → labels of nemokeys_gateway_denials_total */
  denials: Map<string, Record<string, string>>;
  lastUsed: Record<string, string> | undefined;
}

const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const MAX_MODEL_LABEL = 64;

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly perKeyLabels: boolean;
  readonly #requests: Counter;
  readonly #denials: Counter;
  readonly #overhead: Histogram;
  readonly #upstream: Histogram;
  readonly #lastUsed: Gauge;
  readonly #reportWritten: Gauge;
  readonly #reportWriteErrors: Counter;
  readonly #reportDuplicate: Gauge;
  /** limitsKey → models labelled for it that its scope does not name. */
  readonly #models = new Map<string, Set<string>>();
  readonly #maxModels: number;
  #store: RecordStore | undefined;
  /** keyId → labels of its last-used series, so series of removed keys can be dropped. */
  readonly #lastUsedSeries = new Map<string, Record<string, string>>();
  // Label objects built once per record (records are immutable and swapped whole, so a WeakMap by
  // identity lets them go with the record): the hot path hands prom-client a ready object instead of
  // spreading a new one per request. Bounded like the series themselves.
  readonly #recordLabels = new WeakMap<KeyRecord, RecordLabels>();
  readonly #anonymousLabels: RecordLabels;

  /** Hooks for the usage reporter (gateway/usage/reporter.ts UsageReportEvents). */
  readonly usageReport = {
    written: (at: Date) => this.#reportWritten.set(at.getTime() / 1000),
    writeFailed: () => this.#reportWriteErrors.inc(),
    duplicateId: () => this.#reportDuplicate.set(1),
  };

  constructor(opts: GatewayMetricsOptions = {}) {
    this.perKeyLabels = opts.perKeyLabels ?? true;
    this.#maxModels = opts.maxModelsPerKey ?? 20;
    this.#anonymousLabels = {
      key: this.#keyLabels(undefined),
      requests: new Map(),
      denials: new Map(),
      lastUsed: undefined,
    };
    const registers = [this.registry];
    const keyLabels = this.perKeyLabels ? ['namespace', 'apikey', 'team'] : ['namespace', 'team'];
    this.#reportWritten = new Gauge({
      name: 'nemokeys_gateway_usage_report_last_write_timestamp_seconds',
      help: 'When this replica last wrote its usage report successfully (unix seconds; absent until the first write).',
      registers,
    });
    this.#reportWriteErrors = new Counter({
      name: 'nemokeys_gateway_usage_report_write_errors_total',
      help: 'Usage report writes that failed (retried on the next interval).',
      registers,
    });
    this.#reportDuplicate = new Gauge({
      name: 'nemokeys_gateway_usage_report_duplicate_instance',
      help: '1 once another live gateway process was seen writing the usage report under this gateway id.',
      registers,
    });
    this.#reportDuplicate.set(0);
    this.#requests = new Counter({
      name: 'nemokeys_gateway_requests_total',
      help: 'Requests answered by the gateway, by key, model, endpoint and HTTP status.',
      labelNames: [...keyLabels, 'model', 'endpoint', 'code'],
      registers,
    });
    this.#denials = new Counter({
      name: 'nemokeys_gateway_denials_total',
      help: 'Requests the gateway refused, by reason.',
      labelNames: ['reason', ...keyLabels],
      registers,
    });
    this.#overhead = new Histogram({
      name: 'nemokeys_gateway_overhead_seconds',
      help: 'Time spent in the gateway per request, excluding the upstream.',
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
    this.#upstream = new Histogram({
      name: 'nemokeys_gateway_upstream_seconds',
      help: 'Time from sending a request upstream to the end of its response.',
      buckets: UPSTREAM_BUCKETS,
      registers,
    });
    this.#lastUsed = new Gauge({
      name: 'nemokeys_gateway_key_last_used_timestamp_seconds',
      help: 'When this gateway last admitted a request with the key id (unix seconds).',
      labelNames: this.perKeyLabels ? ['namespace', 'apikey', 'key_id'] : ['namespace'],
      registers,
      collect: () => this.#dropRemovedKeys(),
    });
    const store = () => this.#store;
    new Gauge({
      name: 'nemokeys_gateway_records_loaded',
      help: 'Key records currently loaded.',
      registers,
      collect() {
        this.set(store()?.size ?? 0);
      },
    });
    new Gauge({
      name: 'nemokeys_gateway_records_conflicting',
      help: 'Key ids refused because the records source holds different records for them (fix the source).',
      registers,
      collect() {
        this.set(store()?.conflicts ?? 0);
      },
    });
    new Gauge({
      name: 'nemokeys_gateway_synced',
      help: '1 once the key records completed their first sync (before that every request gets 503).',
      registers,
      collect() {
        this.set(store()?.synced ? 1 : 0);
      },
    });
    new Gauge({
      name: 'nemokeys_gateway_last_sync_timestamp_seconds',
      help: 'When the key records were last synced (unix seconds, 0 = never).',
      registers,
      collect() {
        const at = store()?.lastSyncAt;
        this.set(at === undefined ? 0 : at.getTime() / 1000);
      },
    });
  }

  /** The store whose size and sync state the gauges report. */
  bindStore(store: RecordStore): void {
    this.#store = store;
  }

  #keyLabels(record: KeyRecord | undefined): Record<string, string> {
    const namespace = record?.owner.namespace ?? '';
    const team = record?.team ?? '';
    return this.perKeyLabels ? { namespace, apikey: record?.owner.name ?? '', team } : { namespace, team };
  }

  #modelLabel(record: KeyRecord | undefined, model: string | undefined): string {
    if (model === undefined) return '';
    if (model.length > MAX_MODEL_LABEL || record === undefined) return 'other';
    if (record.scopes.models.includes(model)) return model;
    let seen = this.#models.get(record.limitsKey);
    if (seen === undefined) {
      seen = new Set();
      this.#models.set(record.limitsKey, seen);
    }
    if (seen.has(model)) return model;
    if (seen.size >= this.#maxModels) return 'other';
    seen.add(model);
    return model;
  }

  #labelsOf(record: KeyRecord | undefined): RecordLabels {
    if (record === undefined) return this.#anonymousLabels;
    let l = this.#recordLabels.get(record);
    if (l === undefined) {
      l = { key: this.#keyLabels(record), requests: new Map(), denials: new Map(), lastUsed: undefined };
      this.#recordLabels.set(record, l);
    }
    return l;
  }

  request(record: KeyRecord | undefined, model: string | undefined, endpoint: string, code: number): void {
    const l = this.#labelsOf(record);
    const modelLabel = this.#modelLabel(record, model);
    const id = `${code} ${endpoint} ${modelLabel}`;
    let labels = l.requests.get(id);
    if (labels === undefined) {
      labels = { ...l.key, model: modelLabel, endpoint, code: String(code) };
      l.requests.set(id, labels);
    }
    this.#requests.inc(labels);
  }

  denial(reason: DenialReason, record: KeyRecord | undefined): void {
    const l = this.#labelsOf(record);
    let labels = l.denials.get(reason);
    if (labels === undefined) {
      labels = { reason, ...l.key };
      l.denials.set(reason, labels);
    }
    this.#denials.inc(labels);
  }

  overhead(seconds: number): void {
    this.#overhead.observe(seconds);
  }

  upstream(seconds: number): void {
    this.#upstream.observe(seconds);
  }

  keyUsed(record: KeyRecord, nowMs: number): void {
    const l = this.#labelsOf(record);
    l.lastUsed ??= this.perKeyLabels
      ? { namespace: record.owner.namespace, apikey: record.owner.name, key_id: record.keyId }
      : { namespace: record.owner.namespace };
    const labels = l.lastUsed;
    this.#lastUsed.set(labels, nowMs / 1000);
    if (this.perKeyLabels) this.#lastUsedSeries.set(record.keyId, labels);
  }

  #dropRemovedKeys(): void {
    const store = this.#store;
    if (store === undefined) return;
    for (const [keyId, labels] of this.#lastUsedSeries) {
      if (store.get(keyId) === undefined) {
        this.#lastUsed.remove(labels);
        this.#lastUsedSeries.delete(keyId);
      }
    }
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * /metrics, /healthz (process alive) and /readyz (records synced: until then the gateway answers 503
 * and should get no traffic). Meant for its own port, away from the proxied API.
 */
export function buildMetricsServer(metrics: GatewayMetrics, records: RecordStore): FastifyInstance {
  metrics.bindStore(records);
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.text();
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (!records.synced) return reply.code(503).send({ status: 'not synced', records: records.size });
    return { status: 'ready', records: records.size };
  });
  return app;
}
