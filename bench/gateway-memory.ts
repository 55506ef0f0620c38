// The gateway's memory with N key records, without running the operator: N records rendered by the
// operator's renderer (gateway/sources/testing.ts) are applied to a fresh control plane, then the real
// `nemokeys gateway` loads them once per Node flag set, in a cgroup of the chart's memory limit (as in a
// Pod: V8 sizes its heap from it); RSS once all N are in its store.
//   npx node bench/gateway-memory.ts [N=10000]    # env: GATEWAY_NODE_ARGS="set one;set two" (';' = next set)
// Default flag sets: the chart's gateway.nodeFlags, then none.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { FIELD_MANAGER } from '../api/constants.ts';
import { makeKeyAndRecord, recordSecretManifest } from '../gateway/sources/testing.ts';
import { applyObject } from '../kube/apply.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';
import { chartMemoryCgroup } from './cgroup.ts';
import { spawnGateway } from './gateway-process.ts';
import { mib, startBenchEnv } from './operator-env.ts';
import { REPO, warmCompileCache } from './operator-process.ts';

const N = Number(process.argv[2] ?? 10_000);
const chart = parse(readFileSync(join(REPO, 'charts', 'nemokeys', 'values.yaml'), 'utf8')) as {
  gateway: { nodeFlags?: string[] };
};
const sets = (process.env.GATEWAY_NODE_ARGS ?? `${(chart.gateway.nodeFlags ?? []).join(' ')};`)
  .split(';')
  .map((s) => s.split(' ').filter(Boolean));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stdout.write(`${line}\n`);

const cgroup = chartMemoryCgroup('gateway', say);
const env = await startBenchEnv(() => {});
try {
  const kube = kubeClientFor(env.kc);
  let next = 0;
  const apply = async () => {
    for (let i = next++; i < N; i = next++) {
      const { record } = makeKeyAndRecord();
      await applyObject(kube, recordSecretManifest(record, env.recordsNamespace), { fieldManager: FIELD_MANAGER });
    }
  };
  await Promise.all(Array.from({ length: 32 }, apply));
  say(`${N} records applied`);
  for (const nodeArgs of sets) {
    warmCompileCache({ PATH: process.env.PATH, HOME: process.env.HOME }, nodeArgs);
    const gw = await spawnGateway({
      kubeconfig: env.cp.kubeconfigPath,
      recordsNamespace: env.recordsNamespace,
      nodeArgs,
      ...(cgroup ? { cgroup } : {}),
    });
    let peak = 0;
    while ((await gw.records()) !== N) {
      peak = Math.max(peak, gw.rssBytes() ?? 0);
      await sleep(250);
    }
    await sleep(5_000);
    const rss = gw.rssBytes();
    say(
      `gateway (${nodeArgs.join(' ') || 'no Node flags'}): ${N} records, RSS ${mib(rss)} (peak ${mib(Math.max(peak, rss ?? 0))})`,
    );
    await gw.stop();
  }
} finally {
  await env.cp.stop();
  cgroup?.remove();
}
