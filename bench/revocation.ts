// Revocation latency on a real API server (its own etcd + kube-apiserver):
//   npx node bench/revocation.ts            # env: TRIES=20 BACKGROUND=0 (extra Ready ApiKeys the operator and gateway carry)
//   MODE=key-id npx node bench/revocation.ts   # revoke the key id (spec.revokedKeyIds) instead of the ApiKey
// The operator and the gateway run as their CLIs in child processes, like in a cluster; a demo
// upstream answers behind the gateway. For each try a client polls the gateway back to back with a
// Ready key, the ApiKey gets spec.revoked=true, and the time from the API server's acknowledgement of
// that patch to the first 401 is taken (bench/revocation-probe.ts). The path measured: watch event →
// operator reconcile → record Secret update → gateway's record watch → its store → 401.
import { spawn } from 'node:child_process';
import { CoreV1Api } from '@kubernetes/client-node';
import { ANNOTATIONS } from '../api/constants.ts';
import { startDemoUpstream } from '../gateway/demo-upstream.ts';
import { createApiKeys, freePort, mib, startBenchEnv } from './operator-env.ts';
import { NODE_24, REPO, procRssBytes, spawnOperator } from './operator-process.ts';
import { isReady, listApiKeys } from './operator-state.ts';
import { percentile } from './gateway-load.ts';
import { measureRevocation, type RevocationTry } from './revocation-probe.ts';

const TRIES = Number(process.env.TRIES ?? 20);
const BACKGROUND = Number(process.env.BACKGROUND ?? 0);
const BY_KEY_ID = process.env.MODE === 'key-id';
const t0 = performance.now();
const say = (line: string) =>
  process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(7)} s] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const env = await startBenchEnv((l) => say(`controlplane: ${l}`));
const upstream = await startDemoUpstream();
const operator = spawnOperator({
  kubeconfig: env.cp.kubeconfigPath,
  recordsNamespace: env.recordsNamespace,
  leaderElect: false,
  identity: 'bench-operator',
});
const [port, metricsPort] = [await freePort(), await freePort()];
const gateway = spawn(
  NODE_24,
  [
    `${REPO}/bin/nemokeys.js`,
    'gateway',
    '--upstream',
    upstream.url.toString(),
    '--listen',
    `127.0.0.1:${port}`,
    '--metrics-port',
    String(metricsPort),
    '--records-namespace',
    env.recordsNamespace,
    '--kubeconfig',
    env.cp.kubeconfigPath,
    '--gateway-id',
    'bench-gateway',
    '--log-level',
    'warn',
    '--no-per-key-labels',
  ],
  { cwd: REPO, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'ignore', 'inherit'] },
);
const cleanup = async () => {
  operator.kill('SIGKILL');
  gateway.kill('SIGKILL');
  await upstream.close();
  await env.cp.stop();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));

try {
  await operator.metricsPort;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (gateway.exitCode !== null) throw new Error(`gateway exited with ${gateway.exitCode}`);
    await sleep(200);
  }
  say(`operator and gateway up; creating ${BACKGROUND} background + ${TRIES} ApiKeys`);
  await createApiKeys(env, 'background', BACKGROUND);
  await createApiKeys(env, 'revoke', TRIES);
  for (;;) {
    const keys = await listApiKeys(env.kc, env.namespace);
    const ready = keys.filter(isReady).length;
    if (ready === BACKGROUND + TRIES) break;
    say(`ready ${ready}/${BACKGROUND + TRIES}`);
    await sleep(3000);
  }
  say(`all Ready; operator RSS ${mib(operator.rssBytes())}, gateway RSS ${mib(procRssBytes(gateway.pid!))}`);

  const core = env.kc.makeApiClient(CoreV1Api);
  const tries: RevocationTry[] = [];
  for (let i = 0; i < TRIES; i++) {
    const name = `revoke-${i}`;
    const secret = await core.readNamespacedSecret({ namespace: env.namespace, name });
    const key = Buffer.from(secret.data!['api-key']!, 'base64').toString('utf8');
    const keyId = BY_KEY_ID ? secret.metadata?.annotations?.[ANNOTATIONS.keyId] : undefined;
    const t = await measureRevocation({
      kc: env.kc,
      namespace: env.namespace,
      name,
      key,
      keyId,
      gatewayUrl: `http://127.0.0.1:${port}`,
      timeoutMs: 60_000,
    });
    tries.push(t);
    say(
      `${name}: ack→401 ${t.ackTo401Ms.toFixed(1)} ms, send→401 ${t.sendTo401Ms.toFixed(1)} ms, ${t.okAfterAck} requests still allowed after the ack`,
    );
    await sleep(200); // let the operator finish the status write before the next try
  }
  const stats = (values: number[]) => {
    const xs = [...values].sort((a, b) => a - b);
    return { p50: percentile(xs, 50), p90: percentile(xs, 90), p99: percentile(xs, 99), max: xs.at(-1)! };
  };
  const fmt = (s: ReturnType<typeof stats>) =>
    `p50 ${s.p50.toFixed(0)} ms, p90 ${s.p90.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms, max ${s.max.toFixed(0)} ms`;
  const ack = stats(tries.map((t) => t.ackTo401Ms));
  const send = stats(tries.map((t) => t.sendTo401Ms));
  const allowed = stats(tries.map((t) => t.okAfterAck));
  say(`API ack → first 401 over ${TRIES} tries: ${fmt(ack)}`);
  say(`patch sent → first 401: ${fmt(send)}`);
  say(
    `requests still allowed after the ack: p50 ${allowed.p50}, max ${allowed.max} (back-to-back polling, one in flight)`,
  );
  process.stdout.write(
    `${JSON.stringify({
      bench: 'revocation',
      mode: BY_KEY_ID ? 'key-id' : 'apikey',
      tries: TRIES,
      background: BACKGROUND,
      ackTo401Ms: Object.fromEntries(Object.entries(ack).map(([k, v]) => [k, +v.toFixed(1)])),
      sendTo401Ms: Object.fromEntries(Object.entries(send).map(([k, v]) => [k, +v.toFixed(1)])),
    })}\n`,
  );
} finally {
  await cleanup();
}
