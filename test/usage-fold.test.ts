// Reports of gone gateway replicas fold into the usage archive (docs/design.md §4), on the real API server
// with the real operator and real `nemokeys gateway` processes writing real reports:
// - e2e: two gateways spend a budget, one stops for good; its report folds into the archive and is
//   deleted; ApiKey status is unchanged and the budget stays exhausted at the survivor and at a gateway
//   started afterwards (which knows the gone replica's spend only through the archive);
// - crash table: the operator dies after each write of a fold pass (k = 0 … 2: archive, delete) and a
//   new one takes over; with the process dead at step k and after convergence, status and the budget a
//   live gateway enforces stay exact.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { GROUP, KINDS, LABELS, VERSION } from '../api/constants.ts';
import { USAGE_ARCHIVE_NAME } from '../api/usage-archive.ts';
import { decodeUsageReport, type UsageReport } from '../api/usage.ts';
import { sleep } from '../controlplane/process.ts';
import { usageConfigMapName } from '../gateway/usage/reporter-kube.ts';
import { SimulatedCrash } from '../operator/rotation/failure-injection.ts';
import type { FoldWriter } from '../operator/usage/fold.ts';
import { adminKubeConfig, clusterKubeconfig, hasCluster } from './support/cluster.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import {
  createReadyKey,
  createTeam,
  eventually,
  realTimeClock,
  startTestOperator,
  type TestOperator,
} from './support/operator.ts';
import { startUpstream, type TestUpstream } from './support/upstream.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const COST = 10; // credits per request: the upstream reports usage.total_tokens = 10
const BUDGET = 100;
/** --report-interval 1s: live gateways rewrite their report at least every 6 s (the heartbeat). */
const INTERVAL = '1s';
/** Well above the heartbeat plus a write's latency on a loaded machine: only stopped gateways fold. */
const FOLD_AFTER_MS = 12_000;
const FOLD = { usageFoldAfterMs: FOLD_AFTER_MS, usageFoldPeriodMs: 300 };

/** The fold writer of an operator that dies right after its `after`-th write (0: at the first). */
class FoldCrash {
  readonly writes: string[] = [];
  crashed = false;
  readonly after: number;
  constructor(after: number) {
    this.after = after;
  }
  wrap(inner: FoldWriter): FoldWriter {
    const step = async (what: string, write: () => Promise<void>) => {
      if (this.writes.length >= this.after) {
        this.crashed = true; // a dead process writes nothing
        throw new SimulatedCrash('the usage fold', this.writes.length);
      }
      await write();
      this.writes.push(what);
      if (this.writes.length === this.after) {
        this.crashed = true;
        throw new SimulatedCrash('the usage fold', this.after);
      }
    };
    return {
      writeArchive: (r, rv) => step('archive', () => inner.writeArchive(r, rv)),
      deleteReport: (name, rv) => step(`delete ${name}`, () => inner.deleteReport(name, rv)),
    };
  }
}

/** One chat completion; a 503 (a gateway still reading the reports) is retried. Status and error code. */
async function send(url: string, key: string): Promise<{ status: number; code?: string }> {
  const client = new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0, timeout: 10_000 });
  for (let attempt = 0; ; attempt++) {
    try {
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      return { status: 200 };
    } catch (err) {
      if (!(err instanceof OpenAI.APIError) || err.status === undefined) throw err;
      if (err.status === 503 && attempt < 100) {
        await sleep(100);
        continue;
      }
      return { status: err.status, code: String(err.code) };
    }
  }
}

/** Round robin over `urls` until three in a row are denied; the number of admitted requests. */
async function exhaust(urls: string[], key: string): Promise<number> {
  let admitted = 0;
  let denied = 0;
  for (let i = 0; denied < 3; i++) {
    if (i > 200) throw new Error('the budget was never exhausted');
    const r = await send(urls[i % urls.length]!, key);
    if (r.status === 200) admitted++;
    denied = r.status === 429 ? denied + 1 : 0;
    await sleep(150);
  }
  return admitted;
}

/** The budget is exhausted at `url`: three requests, each denied for the budget. */
async function deniedForBudget(url: string, key: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    const r = await send(url, key);
    if (r.status !== 429 || r.code !== 'insufficient_quota') return false;
  }
  return true;
}

const sameUsage = (u: ApiKeyStatus['usage'], e: { requests: number; credits: number }) =>
  u?.requests === e.requests && u?.credits === e.credits;

interface World {
  records: string;
  ns: string;
  kc: KubeConfig;
  key: string;
  gateway(id: string): Promise<GatewayProcess>;
  usage(): Promise<ApiKeyStatus['usage']>;
  reports(): Promise<Map<string, { rv: string; report: UsageReport }>>;
}

describe.skipIf(!hasCluster())(
  'usage reports of gone replicas fold into the archive (real operator, real gateways)',
  () => {
    let upstream: TestUpstream;
    const gateways: GatewayProcess[] = [];
    const operators: TestOperator[] = [];

    beforeAll(async () => {
      upstream = await startUpstream();
      upstream.totalTokens = COST;
    });
    afterAll(async () => {
      for (const gw of gateways) await gw.kill('SIGKILL');
      for (const op of operators) await op.stop().catch(() => undefined);
      await upstream?.close();
    });

    const operator = async (w: Pick<World, 'records' | 'ns'>, crash?: FoldCrash) => {
      const op = await startTestOperator({
        recordsNamespace: w.records,
        clock: realTimeClock(),
        watchNamespace: w.ns,
        controllers: { ...FOLD, ...(crash ? { wrapFoldWriter: (inner) => crash.wrap(inner) } : {}) },
      });
      operators.push(op);
      return op;
    };

    /** Namespaces, a Team and a Ready ApiKey with a lifetime budget (no period boundary can split a test). */
    const world = async (name: string, crash?: FoldCrash): Promise<World & { op: TestOperator }> => {
      const kc = adminKubeConfig();
      const w = { records: `fold-records-${name}-${RUN}`, ns: `fold-${name}-${RUN}` };
      const op = await operator(w, crash);
      await createTeam(kc, w.ns, 'team');
      const { key } = await createReadyKey(kc, w.ns, 'batch', {
        team: 'team',
        budget: { credits: BUDGET, period: 'Never' },
      });
      const core = kc.makeApiClient(CoreV1Api);
      return {
        ...w,
        kc,
        key,
        op,
        gateway: async (id) => {
          const gw = await startGatewayProcess({
            upstream: upstream.url,
            kubeconfig: clusterKubeconfig(),
            recordsNamespace: w.records,
            gatewayId: `${id}-${RUN}`,
            reportInterval: INTERVAL,
          });
          gateways.push(gw);
          return gw;
        },
        usage: async () =>
          (
            (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              plural: KINDS.apiKey.plural,
              namespace: w.ns,
              name: 'batch',
            })) as { status?: ApiKeyStatus }
          ).status?.usage,
        reports: async () => {
          const out = new Map<string, { rv: string; report: UsageReport }>();
          for (const cm of (
            await core.listNamespacedConfigMap({ namespace: w.records, labelSelector: `${LABELS.usage}=true` })
          ).items) {
            const d = decodeUsageReport(cm);
            if (!d.ok) throw new Error(`${cm.metadata?.name}: ${d.error}`);
            out.set(cm.metadata!.name!, { rv: cm.metadata!.resourceVersion!, report: d.report });
          }
          return out;
        },
      };
    };

    /** Spends the budget over two gateways, stops `gone` for good; admitted requests and the survivor. */
    const spendThenStopOne = async (w: World, name: string) => {
      const gone = await w.gateway(`${name}-gone`);
      const survivor = await w.gateway(`${name}-live`);
      const admitted = await exhaust([gone.url, survivor.url], w.key);
      expect(await gone.kill('SIGTERM')).toBe(0); // its final report is flushed
      const expected = { requests: admitted, credits: admitted * COST };
      let seen: unknown;
      await eventually(
        async () => {
          const usage = await w.usage();
          seen = usage;
          return sameUsage(usage, expected);
        },
        20_000,
        'status usage of both gateways',
      ).catch((err: Error) => {
        throw new Error(`${err.message}: status ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`);
      });
      const goneName = usageConfigMapName(`${name}-gone-${RUN}`);
      const goneSpend = Object.values((await w.reports()).get(goneName)!.report.keys)[0]?.spend?.credits ?? 0;
      expect(goneSpend).toBeGreaterThan(0); // the gone replica's spend matters for the budget
      return { admitted, expected, survivor, goneName };
    };

    it("e2e: a stopped gateway's report folds into the archive; status unchanged, budget still exhausted", async () => {
      const w = await world('e2e');
      const { expected, survivor, goneName } = await spendThenStopOne(w, 'e2e');
      const folded = await eventually(
        async () => {
          const r = await w.reports();
          const archive = r.get(USAGE_ARCHIVE_NAME);
          return !r.has(goneName) && archive && Object.keys(archive.report.absorbed ?? {}).length === 0 ? r : undefined;
        },
        FOLD_AFTER_MS + 20_000,
        'report folded, deleted and forgotten by the archive',
      );
      expect([...folded.keys()].sort()).toEqual([USAGE_ARCHIVE_NAME, usageConfigMapName(`e2e-live-${RUN}`)].sort());
      expect(await w.usage()).toEqual(expected);
      expect(await deniedForBudget(survivor.url, w.key)).toBe(true);
      // A gateway started now knows the gone replica's spend only through the archive.
      const fresh = await w.gateway('e2e-fresh');
      expect(await deniedForBudget(fresh.url, w.key)).toBe(true);
      await sleep(2000);
      expect(await w.usage()).toEqual(expected);
      const opMetrics = await w.op.metricsText();
      expect(opMetrics).toMatch(/^nemokeys_operator_usage_reports_folded_total 1$/m);
      const gwMetrics = await (await fetch(survivor.metricsUrl)).text();
      const lastWrite = Number(
        /^nemokeys_gateway_usage_report_last_write_timestamp_seconds (\S+)$/m.exec(gwMetrics)?.[1],
      );
      expect(Date.now() / 1000 - lastWrite).toBeLessThan(30);
      expect(gwMetrics).toMatch(/^nemokeys_gateway_usage_report_write_errors_total 0$/m);
      expect(gwMetrics).toMatch(/^nemokeys_gateway_usage_report_duplicate_instance 0$/m);
    }, 120_000);

    // writes of one fold pass with one gone report: 1 the archive, 2 the delete (then the operator is dead)
    it.each([0, 1, 2])(
      'crash after fold write %i: status and the enforced budget stay exact, a new operator converges',
      async (k) => {
        const crash = new FoldCrash(k);
        const w = await world(`crash${k}`, crash);
        const { expected, survivor, goneName } = await spendThenStopOne(w, `c${k}`);
        await eventually(
          async () => crash.crashed,
          FOLD_AFTER_MS + 20_000,
          `the operator's crash after fold write ${k}`,
        );
        const frozen = await w.reports();
        process.stdout.write(
          `[usage-fold] crash after write ${k} (${crash.writes.join(', ') || 'none'}): reports ${[...frozen.keys()].join(', ')}\n`,
        );
        expect(frozen.has(USAGE_ARCHIVE_NAME)).toBe(k >= 1);
        expect(frozen.has(goneName)).toBe(k < 2);
        // the dead operator's state, counted by everyone exactly once
        expect(await w.usage()).toEqual(expected);
        expect(await deniedForBudget(survivor.url, w.key)).toBe(true);
        const fresh = await w.gateway(`c${k}-fresh`);
        expect(await deniedForBudget(fresh.url, w.key)).toBe(true);

        await w.op.stop();
        const next = await operator(w);
        await eventually(
          async () => {
            const r = await w.reports();
            const archive = r.get(USAGE_ARCHIVE_NAME);
            return !r.has(goneName) && archive && Object.keys(archive.report.absorbed ?? {}).length === 0;
          },
          FOLD_AFTER_MS + 20_000,
          'the new operator finishes the fold',
        );
        await eventually(async () => sameUsage(await w.usage(), expected), 10_000, 'status after convergence');
        expect(await w.usage()).toEqual(expected);
        expect(await deniedForBudget(survivor.url, w.key)).toBe(true);
        expect(await deniedForBudget(fresh.url, w.key)).toBe(true);
        await next.stop();
      },
      150_000,
    );
  },
);
