import { describe, expect, it } from 'vitest';
import { buildMetricsServer, GatewayMetrics } from './metrics.ts';
import { RecordStore } from './records/store.ts';
import { makeKeyAndRecord } from './sources/testing.ts';

describe('GatewayMetrics', () => {
  it('exposes the contract names with per-key labels', async () => {
    const m = new GatewayMetrics();
    const { record } = makeKeyAndRecord();
    m.request(record, 'gpt-4o-mini', '/chat/completions', 200);
    m.denial('ip_not_allowed', record);
    m.denial('missing_key', undefined);
    m.overhead(0.0002);
    m.upstream(0.05);
    m.keyUsed(record, 1_700_000_000_000);
    const text = await m.text();
    for (const name of [
      'nemokeys_gateway_requests_total',
      'nemokeys_gateway_denials_total',
      'nemokeys_gateway_overhead_seconds_bucket',
      'nemokeys_gateway_upstream_seconds_bucket',
      'nemokeys_gateway_key_last_used_timestamp_seconds',
      'nemokeys_gateway_records_loaded',
      'nemokeys_gateway_synced',
      'nemokeys_gateway_last_sync_timestamp_seconds',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toContain(
      'nemokeys_gateway_requests_total{namespace="team-a",apikey="checkout",team="team-a",model="gpt-4o-mini",endpoint="/chat/completions",code="200"} 1',
    );
    expect(text).toContain('nemokeys_gateway_denials_total{reason="missing_key",namespace="",apikey="",team=""} 1');
    expect(text).toContain(
      `nemokeys_gateway_key_last_used_timestamp_seconds{namespace="team-a",apikey="checkout",key_id="${record.keyId}"} 1700000000`,
    );
  });

  it('keeps series apart per record, model, endpoint, code and reason while reusing label sets', async () => {
    const m = new GatewayMetrics();
    const owner = (name: string) => ({ owner: { namespace: 'team-a', name, uid: name } });
    const a = makeKeyAndRecord(owner('a')).record;
    const b = makeKeyAndRecord(owner('b')).record;
    for (const [record, model, endpoint, code] of [
      [a, 'm1', '/chat/completions', 200],
      [a, 'm1', '/chat/completions', 200],
      [a, 'm2', '/chat/completions', 200],
      [a, 'm1', '/embeddings', 200],
      [a, 'm1', '/chat/completions', 429],
      [b, 'm1', '/chat/completions', 200],
    ] as const) {
      m.request(record, model, endpoint, code);
    }
    m.denial('revoked', a);
    m.denial('revoked', a);
    m.denial('expired', a);
    m.denial('revoked', b);
    const text = await m.text();
    const series = (name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`))
        .sort();
    expect(series('nemokeys_gateway_requests_total')).toEqual(
      [
        'apikey="a",team="team-a",model="m1",endpoint="/chat/completions",code="200"} 2',
        'apikey="a",team="team-a",model="m1",endpoint="/chat/completions",code="429"} 1',
        'apikey="a",team="team-a",model="m1",endpoint="/embeddings",code="200"} 1',
        'apikey="a",team="team-a",model="m2",endpoint="/chat/completions",code="200"} 1',
        'apikey="b",team="team-a",model="m1",endpoint="/chat/completions",code="200"} 1',
      ]
        .map((l) => `nemokeys_gateway_requests_total{namespace="team-a",${l}`)
        .sort(),
    );
    expect(series('nemokeys_gateway_denials_total')).toEqual(
      [
        'reason="expired",namespace="team-a",apikey="a",team="team-a"} 1',
        'reason="revoked",namespace="team-a",apikey="a",team="team-a"} 2',
        'reason="revoked",namespace="team-a",apikey="b",team="team-a"} 1',
      ]
        .map((l) => `nemokeys_gateway_denials_total{${l}`)
        .sort(),
    );
  });

  it('usage report health: last write, write errors, duplicate instance', async () => {
    const m = new GatewayMetrics();
    expect(await m.text()).toMatch(/^nemokeys_gateway_usage_report_duplicate_instance 0$/m);
    m.usageReport.written(new Date(1_700_000_000_500));
    m.usageReport.writeFailed();
    m.usageReport.duplicateId();
    const text = await m.text();
    expect(text).toMatch(/^nemokeys_gateway_usage_report_last_write_timestamp_seconds 1700000000.5$/m);
    expect(text).toMatch(/^nemokeys_gateway_usage_report_write_errors_total 1$/m);
    expect(text).toMatch(/^nemokeys_gateway_usage_report_duplicate_instance 1$/m);
  });

  it('perKeyLabels:false drops apikey and key_id', async () => {
    const m = new GatewayMetrics({ perKeyLabels: false });
    const { record } = makeKeyAndRecord();
    m.request(record, 'gpt-4o-mini', '/chat/completions', 200);
    m.keyUsed(record, 1_700_000_000_000);
    const text = await m.text();
    expect(text).not.toMatch(/apikey=|key_id=/);
    expect(text).toContain(
      'nemokeys_gateway_requests_total{namespace="team-a",team="team-a",model="gpt-4o-mini",endpoint="/chat/completions",code="200"} 1',
    );
  });

  it('bounds the model label per key: one key allowed "*" cannot push other keys\' models into "other"', async () => {
    const m = new GatewayMetrics({ maxModelsPerKey: 2 });
    const wild = makeKeyAndRecord({ limitsKey: 'ns/wild' }).record;
    const other = makeKeyAndRecord({ limitsKey: 'ns/other' }).record;
    const named = makeKeyAndRecord({ limitsKey: 'ns/named', scopes: { models: ['m1', 'm2', 'm3'] } }).record;
    for (const model of ['a', 'b', 'c', 'x'.repeat(100)]) m.request(wild, model, 'other', 200);
    m.request(other, 'd', 'other', 200);
    for (const model of ['m1', 'm2', 'm3']) m.request(named, model, 'other', 200);
    const text = await m.text();
    expect(text).toContain('model="other"');
    expect(text).not.toContain('model="c"');
    for (const model of ['a', 'b', 'd', 'm1', 'm2', 'm3']) expect(text).toContain(`model="${model}"`);
  });

  it('drops last-used series of keys that left the store', async () => {
    const m = new GatewayMetrics();
    const store = new RecordStore();
    const a = makeKeyAndRecord().record;
    const b = makeKeyAndRecord().record;
    store.replaceAll([a, b]);
    m.bindStore(store);
    m.keyUsed(a, 1000);
    m.keyUsed(b, 1000);
    store.remove(a.keyId);
    const text = await m.text();
    expect(text).not.toContain(a.keyId);
    expect(text).toContain(b.keyId);
    expect(text).toContain('nemokeys_gateway_records_loaded 1');
  });
});

describe('buildMetricsServer', () => {
  it('serves /metrics, /healthz and /readyz (ready only once synced)', async () => {
    const store = new RecordStore();
    const app = buildMetricsServer(new GatewayMetrics(), store);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    let metrics = await app.inject('/metrics');
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain('nemokeys_gateway_synced 0');
    expect(metrics.body).toContain('nemokeys_gateway_last_sync_timestamp_seconds 0');
    store.replaceAll([makeKeyAndRecord().record], new Date(1_700_000_000_000));
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    metrics = await app.inject('/metrics');
    expect(metrics.body).toContain('nemokeys_gateway_synced 1');
    expect(metrics.body).toContain('nemokeys_gateway_last_sync_timestamp_seconds 1700000000');
    expect(metrics.body).toContain('nemokeys_gateway_records_loaded 1');
  });
});
