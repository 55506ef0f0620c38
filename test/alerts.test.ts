// Alert rules and dashboard queries, checked with the real PromQL parser and engine (promtool):
// the rules parse, each alert's unit tests pass and have teeth, and every query names a metric we export.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  ALERTS,
  EXPORTED_METRICS,
  alertRules,
  dashboardQueries,
  ensurePromtool,
  grafanaToPromql,
  metricNames,
  promtool,
  type RulesFile,
} from './support/promtool.ts';

const CHART = resolve(import.meta.dirname, '..', 'charts', 'nemokeys');
/** promtool unit-test files in charts/nemokeys/tests (expiry spans days, so it has its own file). */
const UNIT_TESTS = ['alerts.test.yaml', 'expiry.test.yaml'];

const bin = ensurePromtool();

describe.skipIf(!bin)('alert rules (promtool)', () => {
  const run = (args: string[], cwd?: string) => promtool(bin!, args, cwd);

  it('files/alerts.yaml passes promtool check rules', async () => {
    const res = await run(['check', 'rules', ALERTS]);
    expect(res.stderr + res.stdout).toMatch(/SUCCESS: \d+ rules found/);
    expect(res.code).toBe(0);
  });

  it('every alert passes its unit tests in charts/nemokeys/tests/', async () => {
    const res = await run(['test', 'rules', ...UNIT_TESTS], join(CHART, 'tests'));
    expect((res.stdout.match(/SUCCESS/g) ?? []).length).toBe(UNIT_TESTS.length);
    expect(res.code, res.stdout + res.stderr).toBe(0);
  });

  it('the unit tests cover every alert with a firing and a quiet evaluation', async () => {
    type UnitTests = { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };
    const files = await Promise.all(
      UNIT_TESTS.map(async (f) => parse(await readFile(join(CHART, 'tests', f), 'utf8')) as UnitTests),
    );
    const cases = files.flatMap((f) => f.tests).flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of await alertRules()) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${rule.alert} never expected to fire`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${rule.alert} never expected to stay quiet`,
      ).toBe(true);
    }
  });

  // The unit tests have teeth: an alert that never fires, or always fires, makes them fail.
  it('breaking any one alert (never fires / always fires) fails the unit tests', async () => {
    const original = parse(await readFile(ALERTS, 'utf8')) as RulesFile;
    const mutants = (await alertRules()).flatMap((r) =>
      ['vector(1) == 0', 'vector(1)'].map((expr) => ({ alert: r.alert, expr })),
    );
    const survivors: string[] = [];
    const tryMutant = async ({ alert, expr }: { alert: string; expr: string }) => {
      const dir = await mkdtemp(join(tmpdir(), 'nemokeys-alerts-'));
      await cp(join(CHART, 'tests'), join(dir, 'tests'), { recursive: true });
      const mutated = structuredClone(original);
      for (const g of mutated.groups) for (const r of g.rules) if (r.alert === alert) r.expr = expr;
      await mkdir(join(dir, 'files'));
      await writeFile(join(dir, 'files', 'alerts.yaml'), stringify(mutated));
      const res = await run(['test', 'rules', ...UNIT_TESTS], join(dir, 'tests'));
      if (res.code === 0) survivors.push(`${alert} with expr "${expr}"`);
      await rm(dir, { recursive: true, force: true });
    };
    for (let i = 0; i < mutants.length; i += 4) await Promise.all(mutants.slice(i, i + 4).map(tryMutant));
    expect(survivors, 'these broken alerts still passed the unit tests').toEqual([]);
  }, 600_000);

  it('every dashboard query parses as PromQL', async () => {
    const queries = await dashboardQueries();
    expect(queries.length).toBeGreaterThan(10);
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: grafanaToPromql(q.expr) })),
        },
      ],
    };
    const dir = await mkdtemp(join(tmpdir(), 'nemokeys-dash-'));
    await writeFile(join(dir, 'rules.yaml'), stringify(rules));
    const res = await run(['check', 'rules', join(dir, 'rules.yaml')]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    // The check above must be able to fail: a broken query is reported.
    rules.groups[0]!.rules.push({ record: 'dashboard:broken', expr: 'sum by (le (rate(x[5m]))' });
    await writeFile(join(dir, 'rules.yaml'), stringify(rules));
    expect((await run(['check', 'rules', join(dir, 'rules.yaml')])).code).not.toBe(0);
  });
});

describe('alerts and dashboard only use exported metrics', () => {
  it('alert rules', async () => {
    for (const rule of await alertRules()) {
      const names = metricNames(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const n of names) expect(EXPORTED_METRICS.has(n), `${rule.alert} uses unknown metric ${n}`).toBe(true);
    }
  });

  it('dashboard queries, which together show usage, last use, denials, latency and expiry', async () => {
    const used = new Set<string>();
    for (const q of await dashboardQueries()) {
      const names = metricNames(q.expr);
      expect(names.length, q.panel).toBeGreaterThan(0);
      for (const n of names) {
        expect(EXPORTED_METRICS.has(n), `panel "${q.panel}" uses unknown metric ${n}`).toBe(true);
        used.add(n);
      }
    }
    for (const n of [
      'nemokeys_gateway_requests_total',
      'nemokeys_gateway_key_last_used_timestamp_seconds',
      'nemokeys_gateway_denials_total',
      'nemokeys_gateway_overhead_seconds',
      'nemokeys_apikey_expiry_timestamp_seconds',
    ]) {
      expect(used.has(n), `dashboard has no panel for ${n}`).toBe(true);
    }
  });

  it('metricNames strips histogram suffixes', () => {
    expect(
      metricNames('rate(nemokeys_gateway_overhead_seconds_bucket[5m]) / nemokeys_gateway_overhead_seconds_count'),
    ).toEqual(['nemokeys_gateway_overhead_seconds']);
  });
});
