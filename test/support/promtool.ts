// promtool (Debian package `prometheus`) checks and unit-tests alert rules with the real PromQL engine.
// Missing promtool: fatal in CI, a loud skip locally (see reportMissingTool).
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, logTail, spawnLogged, stopChild, waitFor } from '../../controlplane/process.ts';
import { reportMissingTool, runTool, type ToolResult } from './helm.ts';

export function findPromtool(): string | undefined {
  const fromEnv = process.env.NEMOKEYS_PROMTOOL;
  if (fromEnv) return fromEnv;
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function ensurePromtool(): string | undefined {
  return findPromtool() ?? reportMissingTool('promtool', 'not on PATH', 'Install it: apt-get install -y prometheus.');
}

export function promtool(bin: string, args: string[], cwd?: string): Promise<ToolResult> {
  return runTool(bin, args, { cwd });
}

/** A real Prometheus server (Debian package `prometheus`) on loopback, scraping `targets` every second. */
export interface PrometheusServer {
  url: string;
  /** Instant query; throws with Prometheus's error (e.g. a parse error) instead of returning it. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  get<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export function findPrometheus(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function startPrometheus(
  bin: string,
  opts: { targets: Record<string, string>; ruleFiles?: string[] },
): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'nemokeys-prom-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: opts.ruleFiles ?? [],
    // honor_labels as in the chart's ServiceMonitors: our `namespace` label is the ApiKey's.
    scrape_configs: Object.entries(opts.targets).map(([job, target]) => ({
      job_name: job,
      honor_labels: true,
      static_configs: [{ targets: [target] }],
    })),
  };
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  const logFile = join(dir, 'prometheus.log');
  const child = spawnLogged(
    bin,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { logFile },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'prometheus /-/ready',
    async () => {
      try {
        return (await fetch(`${url}/-/ready`)).ok;
      } catch {
        return false;
      }
    },
    { timeoutMs: 60_000, died: () => (child.exitCode !== null ? logTail(logFile) : undefined) },
  );
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    get,
    query: async (expr) =>
      (
        await get<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result,
    stop: async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// The chart's monitoring assets, shared by the promtool tests and the real-Prometheus test.
export const CHART_FILES = join(import.meta.dirname, '..', '..', 'charts', 'nemokeys', 'files');
export const ALERTS = join(CHART_FILES, 'alerts.yaml');
export const DASHBOARD = join(CHART_FILES, 'dashboard.json');

/** Every metric the operator and gateway export (names fixed by issue 6). Histograms add _bucket/_sum/_count. */
export const EXPORTED_METRICS = new Set([
  'nemokeys_operator_reconcile_total',
  'nemokeys_operator_reconcile_errors_total',
  'nemokeys_operator_reconcile_duration_seconds',
  'nemokeys_operator_workqueue_depth',
  'nemokeys_operator_leader',
  'nemokeys_operator_informer_restarts_total',
  'nemokeys_operator_keys',
  'nemokeys_apikey_expiry_timestamp_seconds',
  'nemokeys_operator_reminders_total',
  'nemokeys_gateway_requests_total',
  'nemokeys_gateway_denials_total',
  'nemokeys_gateway_overhead_seconds',
  'nemokeys_gateway_upstream_seconds',
  'nemokeys_gateway_key_last_used_timestamp_seconds',
  'nemokeys_gateway_records_loaded',
  'nemokeys_gateway_synced',
  'nemokeys_gateway_last_sync_timestamp_seconds',
]);

export function metricNames(expr: string): string[] {
  const names = expr.match(/\bnemokeys_[a-z0-9_]+/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')))];
}

export type Rule = { alert: string; expr: string; for?: string; labels?: Record<string, string> };
export type RulesFile = { groups: { name: string; rules: Rule[] }[] };
type Panel = { title?: string; targets?: { expr?: string }[]; panels?: Panel[] };

export const alertRules = async (): Promise<Rule[]> =>
  (parse(await readFile(ALERTS, 'utf8')) as RulesFile).groups.flatMap((g) => g.rules);

export async function dashboardQueries(): Promise<{ panel: string; expr: string }[]> {
  const dash = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
    panels: Panel[];
    templating: { list: { query?: unknown }[] };
  };
  const walk = (ps: Panel[]): { panel: string; expr: string }[] =>
    ps.flatMap((p) => [
      ...(p.targets ?? []).filter((t) => t.expr).map((t) => ({ panel: p.title ?? '?', expr: t.expr! })),
      ...walk(p.panels ?? []),
    ]);
  return walk(dash.panels);
}

/** Grafana's variables are not PromQL; substitute values of the right type so Prometheus can parse the rest. */
export function grafanaToPromql(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__range', '1h')
    .replaceAll('$__interval', '1m')
    .replaceAll('$namespace', '.*');
}
