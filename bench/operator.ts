// Operator at scale on a real API server (its own etcd + kube-apiserver):
//   npx node bench/operator.ts [N=1000]      # env: WORKERS=<operator default> CEILING_MS=5000 QUIET_MS=5000
//                                            #      IDLE_MS=20000 REPORT_MS=10000 OPERATOR_NODE_ARGS= GATEWAY_NODE_ARGS=
// Node flags default to what the chart ships (charts/nemokeys/values.yaml operator/gateway.nodeFlags);
// GATEWAY_NODE_ARGS may list several flag sets separated by ';' (the gateway is measured with each).
// 1. N ApiKeys exist before the operator starts (creation is timed apart: it is the client's cost);
// 2. the operator (`nemokeys operator` as a child process) starts → time until all N are Ready, as
//    seen by a watch on the API server, and the API writes that took;
// 3. idle: writes during a quiet window (target 0);
// 4. forced resync of everything: the operator is restarted, so every ApiKey is reconciled from a cold
//    cache → API write requests (from apiserver_request_total) and resourceVersion changes (target 0);
// 5. operator RSS (/proc) at N, after issuing and after the resync; invariant check (one key id each);
// 6. a gateway (`nemokeys gateway` as a child process) loads the N records: its RSS.
// The API server's raw write ceiling (small Secret creates at the operator's concurrency) is measured
// right before and right after issuing; keys/s is reported as a fraction of the better of the two ÷
// writes-per-key.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse } from 'yaml';
import { GROUP, KINDS, VERSION } from '../api/constants.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';
import { customObjectInformer } from '../kube/informers.ts';
import { DEFAULT_APIKEY_WORKERS } from '../operator/runtime/concurrency.ts';
import { writeCeiling, type Ceiling } from './operator-ceiling.ts';
import { createApiKeys, mib, startBenchEnv } from './operator-env.ts';
import { chartMemoryCgroup } from './cgroup.ts';
import { spawnGateway } from './gateway-process.ts';
import { cpuSeconds } from './processes.ts';
import { REPO, spawnOperator, warmCompileCache, type OperatorProcess, type Scrape } from './operator-process.ts';
import {
  isReady,
  oneKeyPerApiKeyViolations,
  readState,
  type ApiKeyView,
  type NamespaceState,
} from './operator-state.ts';
import { apiWriteCounts, diffReads, diffWrites, formatRequests, totalRequests } from './operator-writes.ts';

const N = Number(process.argv[2] ?? 1000);
if (!Number.isInteger(N) || N <= 0) throw new Error(`usage: bench/operator.ts [N], got ${process.argv[2]}`);
const QUIET_MS = Number(process.env.QUIET_MS ?? 5000);
const IDLE_MS = Number(process.env.IDLE_MS ?? 20_000);
/** How often the issuing progress (and a scrape of the operator) is reported. */
const REPORT_MS = Number(process.env.REPORT_MS ?? 10_000);
const chart = parse(readFileSync(join(REPO, 'charts', 'nemokeys', 'values.yaml'), 'utf8')) as {
  operator: { nodeFlags?: string[] };
  gateway: { nodeFlags?: string[] };
};
const flags = (text: string) => text.split(' ').filter(Boolean);
/** e.g. --max-old-space-size=256: is the RSS retained memory or heap headroom V8 took because it could? */
const NODE_ARGS = flags(process.env.OPERATOR_NODE_ARGS ?? (chart.operator.nodeFlags ?? []).join(' '));
const GATEWAY_NODE_ARGS = (process.env.GATEWAY_NODE_ARGS ?? (chart.gateway.nodeFlags ?? []).join(' '))
  .split(';')
  .map(flags);
const WORKERS = Number(process.env.WORKERS ?? DEFAULT_APIKEY_WORKERS);
const CEILING_MS = Number(process.env.CEILING_MS ?? 5000);
const CEILING_NAMESPACE = 'bench-ceiling';
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const t0 = performance.now();
const say = (line: string) =>
  process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(7)} s] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The chart's memory limits as cgroups (MEMORY_LIMITS=none: unconstrained, which is not what a Pod sees).
const operatorCgroup = chartMemoryCgroup('operator', say);
const gatewayCgroup = chartMemoryCgroup('gateway', say);

// As the processes run (the cache is keyed by some V8 flags): what the image does at build time.
for (const args of [NODE_ARGS, ...GATEWAY_NODE_ARGS])
  warmCompileCache({ PATH: process.env.PATH, HOME: process.env.HOME }, args);
const env = await startBenchEnv((l) => say(`controlplane: ${l}`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const op of operators) op.kill('SIGKILL');
    void env.cp.stop().finally(() => process.exit(130));
  });
}
const writes = () => apiWriteCounts(env.cp.kubectl, env.cp.kubeconfigPath);
const operators: OperatorProcess[] = [];
const start = (identity: string) => {
  const op = spawnOperator({
    kubeconfig: env.cp.kubeconfigPath,
    recordsNamespace: env.recordsNamespace,
    leaderElect: false,
    identity,
    logLevel: 'info',
    nodeArgs: NODE_ARGS,
    workers: WORKERS,
    ...(operatorCgroup ? { cgroup: operatorCgroup } : {}),
  });
  operators.push(op);
  return op;
};
/** Where the RSS goes: V8 heap used / allocated and memory outside the heap (buffers, native). */
const heap = async (op: OperatorProcess): Promise<string> => {
  const m = await op.scrape();
  const [used, total] = ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes'].map((n) => m(n));
  // Which space holds the heap: the young generation's size is a flag, the old one's growth a heuristic.
  const space = (name: string) => mib(m('nodejs_heap_space_size_total_bytes', { space: name }));
  const spaces = `new ${space('new')}, old ${space('old')}, large ${space('large_object')}`;
  const queued = m('nemokeys_operator_workqueue_depth', { controller: 'apikey' }) ?? 0;
  return (
    `heap used ${mib(used)} of ${mib(total)} (${spaces}), external ${mib(m('nodejs_external_memory_bytes'))}; ` +
    `${reconcilesIn(m)} reconciles, ${queued} queued`
  );
};
function reconcilesIn(m: Scrape): number {
  return m('nemokeys_operator_reconcile_total', { controller: 'apikey' }) ?? 0;
}
const reconciles = async (op: OperatorProcess) => reconcilesIn(await op.scrape());

/** Waits until the operator has done ≥ `min` reconciles, its queue is empty and nothing ran for QUIET_MS. */
async function quiet(op: OperatorProcess, min: number): Promise<void> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    if (!op.running) throw new Error(`operator exited:\n${op.lines.slice(-20).join('\n')}`);
    const m = await op.scrape();
    const n = reconcilesIn(m);
    const depth = m('nemokeys_operator_workqueue_depth') ?? 0;
    if (n !== last || depth > 0) {
      last = n;
      since = performance.now();
    } else if (n >= min && performance.now() - since >= QUIET_MS) return;
    await sleep(500);
  }
}

const versions = (s: NamespaceState): Map<string, string> =>
  new Map([
    ...s.apiKeys.map((k) => [`apikey/${k.metadata.name}`, k.metadata.resourceVersion] as const),
    ...s.secrets.map((x) => [`secret/${x.metadata?.name}`, x.metadata?.resourceVersion ?? ''] as const),
    ...s.records.map((x) => [`record/${x.metadata?.name}`, x.metadata?.resourceVersion ?? ''] as const),
  ]);
const changed = (a: Map<string, string>, b: Map<string, string>) =>
  [...b].filter(([k, v]) => a.get(k) !== v).length + [...a.keys()].filter((k) => !b.has(k)).length;

const ceiling = async (when: string): Promise<Ceiling> => {
  const c = await writeCeiling(env.kc, CEILING_NAMESPACE, WORKERS, CEILING_MS);
  say(
    `API write ceiling ${when}: ${c.writesPerSecond.toFixed(0)} creates/s at concurrency ${c.concurrency} (${c.writes} in ${c.seconds.toFixed(1)} s); load ${load()}`,
  );
  return c;
};

try {
  say(`load average ${load()}; operator workers ${WORKERS}`);
  await env.kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: CEILING_NAMESPACE } } });
  // 1. the backlog
  let t = performance.now();
  await createApiKeys(env, 'key', N, 16);
  const createMs = performance.now() - t;
  say(`created ${N} ApiKeys in ${(createMs / 1000).toFixed(1)} s (${(N / (createMs / 1000)).toFixed(0)}/s)`);

  // Readiness as the API server sees it (a watch, not polling lists of N objects).
  const ready = new Set<string>();
  let allReadyAt: number | undefined;
  const watch = customObjectInformer<ApiKeyView & { apiVersion?: string; kind?: string }>({
    kube: kubeClientFor(env.kc),
    log: pino({ level: 'silent' }),
    group: GROUP,
    version: VERSION,
    plural: KINDS.apiKey.plural,
    namespace: env.namespace,
  });
  watch.onChange((k) => {
    if (isReady(k)) ready.add(k.metadata.name);
    else ready.delete(k.metadata.name);
    if (ready.size === N && allReadyAt === undefined) allReadyAt = performance.now();
  });
  await watch.start();

  // 2. issue, bracketed by two measurements of the API server's write ceiling
  const ceilingBefore = await ceiling('before issuing');
  const w0 = await writes();
  const first = start('bench-1');
  await first.metricsPort;
  const startedAt = performance.now();
  const cpuAtStart = cpuSeconds(first.pid);
  let peakRss = 0;
  let lastReport = 0;
  while (allReadyAt === undefined) {
    if (!first.running) throw new Error(`operator exited:\n${first.lines.slice(-20).join('\n')}`);
    peakRss = Math.max(peakRss, first.rssBytes() ?? 0);
    if (performance.now() - lastReport > REPORT_MS) {
      lastReport = performance.now();
      say(`ready ${ready.size}/${N}, operator RSS ${mib(first.rssBytes())} (${await heap(first)}); load ${load()}`);
    }
    await sleep(250);
  }
  const issueMs = allReadyAt - startedAt;
  // CPU time the kernel charged the operator: the number a loaded, shared machine distorts least.
  const cpuMsPerKey = ((cpuSeconds(first.pid) - cpuAtStart) * 1000) / N;
  const rssReady = first.rssBytes();
  peakRss = Math.max(peakRss, rssReady ?? 0);
  say(
    `all ${N} Ready ${(issueMs / 1000).toFixed(1)} s after the operator started (${(N / (issueMs / 1000)).toFixed(1)} keys/s, operator CPU ${cpuMsPerKey.toFixed(2)} ms/key); RSS ${mib(rssReady)} (peak ${mib(peakRss)}; ${await heap(first)})`,
  );
  await quiet(first, N);
  const afterIssuing = await writes();
  const issueWrites = diffWrites(w0, afterIssuing);
  const writesPerKey = totalRequests(issueWrites) / N;
  // The audit trail's ConfigMaps (docs/design.md §8) record the ApiKeys' creation, not the issuing itself.
  const trailWrites = totalRequests(diffWrites(w0, afterIssuing, /^\S+ configmaps /));
  say(
    `writes to issue ${N} keys: ${totalRequests(issueWrites)} (${writesPerKey.toFixed(2)}/key: ` +
      `${((totalRequests(issueWrites) - trailWrites) / N).toFixed(2)} issuing + ${(trailWrites / N).toFixed(2)} audit trail): ` +
      formatRequests(issueWrites),
  );
  // The bench's own readiness watch and listings are not in it: it only watches (not counted) until here.
  const issueReads = diffReads(w0, afterIssuing);
  const readsPerKey = totalRequests(issueReads) / N;
  say(
    `reads while issuing: ${totalRequests(issueReads)} (${readsPerKey.toFixed(2)}/key): ${formatRequests(issueReads)}`,
  );
  const issueReconciles = await reconciles(first);
  say(`ApiKey reconciles while issuing: ${issueReconciles} (${(issueReconciles / N).toFixed(2)}/key)`);
  const ceilingAfter = await ceiling('after issuing');
  const keysPerSecond = N / (issueMs / 1000);
  // The better of the two: a load spike from another tenant during one measurement must not make the
  // ceiling look low and the operator's fraction of it look high.
  const ceilingWps = Math.max(ceilingBefore.writesPerSecond, ceilingAfter.writesPerSecond);
  const fraction = keysPerSecond / (ceilingWps / writesPerKey);
  say(
    `operator ${keysPerSecond.toFixed(1)} keys/s = ${(keysPerSecond * writesPerKey).toFixed(0)} writes/s = ${fraction.toFixed(2)} of the ceiling (${ceilingWps.toFixed(0)} writes/s ÷ ${writesPerKey.toFixed(2)} writes/key = ${(ceilingWps / writesPerKey).toFixed(0)} keys/s)`,
  );

  // 3. idle
  const w1 = await writes();
  const before = versions(await readState(env.kc, env.namespace, env.recordsNamespace));
  await sleep(IDLE_MS);
  const idleWrites = diffWrites(w1, await writes());
  say(`idle ${IDLE_MS / 1000} s: ${totalRequests(idleWrites)} writes (${formatRequests(idleWrites)})`);

  // 4. forced resync of everything: a restart reconciles all N from a cold cache
  const w2 = await writes();
  await first.stop();
  const second = start('bench-2');
  await second.metricsPort;
  t = performance.now();
  await quiet(second, N);
  const resyncMs = performance.now() - t - QUIET_MS;
  const resyncWrites = diffWrites(w2, await writes());
  const stateAfter = await readState(env.kc, env.namespace, env.recordsNamespace);
  const rvChanges = changed(before, versions(stateAfter));
  const rssResynced = second.rssBytes();
  say(
    `resync (restart) reconciled ${await reconciles(second)} times in ~${(resyncMs / 1000).toFixed(1)} s: ${totalRequests(resyncWrites)} API writes (${formatRequests(resyncWrites)}), ${rvChanges} resourceVersion changes over ${before.size} objects; RSS ${mib(rssResynced)} (${await heap(second)})`,
  );

  if (process.env.HEAP_SNAPSHOT) {
    // Needs OPERATOR_NODE_ARGS="--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR": V8 writes DIR/*.heapsnapshot.
    second.kill('SIGUSR2');
    await sleep(Number(process.env.HEAP_SNAPSHOT));
  }

  // 6. the gateway with N records (the operator's real record Secrets): RSS once all are loaded
  const gateways: Array<{ nodeArgs: string; rssMiB: number; peakMiB: number }> = [];
  for (const nodeArgs of GATEWAY_NODE_ARGS) {
    const gateway = await spawnGateway({
      kubeconfig: env.cp.kubeconfigPath,
      recordsNamespace: env.recordsNamespace,
      nodeArgs,
      ...(gatewayCgroup ? { cgroup: gatewayCgroup } : {}),
    });
    const gwStarted = performance.now();
    let gwPeak = 0;
    while ((await gateway.records()) !== N) {
      gwPeak = Math.max(gwPeak, gateway.rssBytes() ?? 0);
      if (performance.now() - gwStarted > 120_000) throw new Error(`gateway did not load ${N} records in 120 s`);
      await sleep(250);
    }
    const gwLoadedMs = performance.now() - gwStarted;
    await sleep(QUIET_MS);
    const gwRss = gateway.rssBytes();
    gwPeak = Math.max(gwPeak, gwRss ?? 0);
    say(
      `gateway (${nodeArgs.join(' ') || 'no Node flags'}) loaded ${N} records in ${(gwLoadedMs / 1000).toFixed(1)} s; ` +
        `RSS ${mib(gwRss)} (peak ${mib(gwPeak)})`,
    );
    if (process.env.HEAP_SNAPSHOT) {
      process.kill(gateway.pid, 'SIGUSR2'); // the gateway's heap with N records
      await sleep(Number(process.env.HEAP_SNAPSHOT));
    }
    gateways.push({
      nodeArgs: nodeArgs.join(' '),
      rssMiB: Math.round((gwRss ?? 0) / 2 ** 20),
      peakMiB: Math.round(gwPeak / 2 ** 20),
    });
    await gateway.stop();
  }

  // 5. the result is right, not just fast
  const violations = oneKeyPerApiKeyViolations(stateAfter);
  say(
    `invariant (one key id per ApiKey, Secret = record = status): ${violations.length === 0 ? 'OK' : `${violations.length} violations, e.g. ${violations.slice(0, 3).join('; ')}`}`,
  );
  watch.stop();

  process.stdout.write(
    `${JSON.stringify({
      bench: 'operator',
      n: N,
      workers: WORKERS,
      loadAverage: load(),
      ceilingWritesPerSecond: [Math.round(ceilingBefore.writesPerSecond), Math.round(ceilingAfter.writesPerSecond)],
      fractionOfCeiling: +fraction.toFixed(2),
      createSeconds: +(createMs / 1000).toFixed(1),
      readySeconds: +(issueMs / 1000).toFixed(1),
      keysPerSecond: +keysPerSecond.toFixed(1),
      operatorCpuMsPerKey: +cpuMsPerKey.toFixed(2),
      issueWritesPerKey: +writesPerKey.toFixed(2),
      issueReadsPerKey: +readsPerKey.toFixed(2),
      issueReconcilesPerKey: +(issueReconciles / N).toFixed(2),
      idleWrites: totalRequests(idleWrites),
      resyncWrites: totalRequests(resyncWrites),
      resyncRvChanges: rvChanges,
      resyncSeconds: +(resyncMs / 1000).toFixed(1),
      rssReadyMiB: Math.round((rssReady ?? 0) / 2 ** 20),
      rssPeakMiB: Math.round(peakRss / 2 ** 20),
      rssAfterResyncMiB: Math.round((rssResynced ?? 0) / 2 ** 20),
      operatorNodeArgs: NODE_ARGS.join(' '),
      memoryLimits: { operator: operatorCgroup?.limitBytes, gateway: gatewayCgroup?.limitBytes },
      gateways,
      violations: violations.length,
    })}\n`,
  );
} finally {
  for (const op of operators) await op.stop();
  await env.cp.stop();
  operatorCgroup?.remove();
  gatewayCgroup?.remove();
}
