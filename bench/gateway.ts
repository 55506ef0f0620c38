import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKey, verifyKey } from '../api/keyformat.ts';
import { precheck } from '../gateway/checks/precheck.ts';
import { compileCidrs } from '../gateway/client-ip.ts';
import { RecordStore } from '../gateway/records/store.ts';
import { makeKeyAndRecord } from '../gateway/sources/testing.ts';
import { fixedRate, maxThroughput, percentile, type Target } from './gateway-load.ts';
import { startNginx, which } from './nginx.ts';
import { cpuSeconds, startChild as startProcess } from './processes.ts';

// Gateway overhead (docs/design.md §7), loopback only, every component in its own process:
//   (a) straight to the upstream, (b) through nginx proxy_pass, (c) through the gateway, all checks on,
//   and (d) the thinnest node:http proxy, to separate Node's cost of proxying from ours.
// Reports p50/p99 latency at fixed rates (added latency = target minus direct, same run), max
// throughput (wrk if installed), and the key check alone in µs. Run: npx node bench/gateway.ts
// Env: RATES=500,1000  SECONDS=5  CONNECTIONS=32  KEYS=10000

const RATES = (process.env.RATES ?? '500,1000').split(',').filter(Boolean).map(Number); // RATES= skips latency
const SECONDS = Number(process.env.SECONDS ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const KEYS = Number(process.env.KEYS ?? 10_000);
const here = new URL('.', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'nemokeys-bench-'));
const children: ChildProcess[] = [];

const pids: Record<string, number> = {};

async function startChild(cmd: string, args: string[], name?: string): Promise<string> {
  const { child, line } = await startProcess(cmd, args, children);
  if (name !== undefined && child.pid !== undefined) pids[name] = child.pid;
  return line;
}

function keyCheckMicros(): { precheckUs: number; parseUs: number; verifyUs: number } {
  const store = new RecordStore();
  const all = Array.from({ length: KEYS - 1 }, (_, i) => makeKeyAndRecord({ limitsKey: `k/${i}` }).record);
  const { key, record } = makeKeyAndRecord({
    scopes: { models: ['gpt-4o-mini'], endpoints: ['/chat/completions'], ipAllowlist: ['10.0.0.0/8', '127.0.0.0/8'] },
  });
  store.replaceAll([...all, record]);
  const input = {
    synced: true,
    lookup: (id: string) => store.get(id),
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    method: 'POST',
    url: '/v1/chat/completions',
    peer: '::ffff:127.0.0.1',
    trustedProxies: compileCidrs([]),
    nowMs: Date.now(),
  };
  const time = (n: number, f: () => unknown) => {
    for (let i = 0; i < 20_000; i++) f(); // warm-up
    // CPU time, not wall time: on a shared machine other processes stretch the wall clock
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  if (!precheck(input).ok) throw new Error('bench key should pass');
  return {
    precheckUs: time(200_000, () => precheck(input)),
    parseUs: time(200_000, () => parseKey(key)),
    verifyUs: time(200_000, () => verifyKey(key, record.hash)),
  };
}

const fmt = (n: number) => n.toFixed(3);

async function main(): Promise<void> {
  const node = process.execPath;
  const upstreamPort = Number(await startChild(node, [join(here, 'gateway-upstream.ts')], 'direct'));
  const [gwPort, key] = (
    await startChild(node, [join(here, 'gateway-server.ts'), String(upstreamPort), String(KEYS)], 'gateway')
  ).split(' ');
  const nginx = await startNginx(upstreamPort, tmp, children);
  if (nginx !== undefined) pids.nginx = nginx.pid;
  const nginxPort = nginx?.port;
  const nodeProxyPort = Number(
    await startChild(node, [join(here, 'gateway-nodeproxy.ts'), String(upstreamPort)], 'node-proxy'),
  );
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say ok.' }],
    max_tokens: 4,
  });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const targets: Target[] = [
    { name: 'direct', url: `http://127.0.0.1:${upstreamPort}/v1/chat/completions`, headers, body },
    ...(nginxPort ? [{ name: 'nginx', url: `http://127.0.0.1:${nginxPort}/v1/chat/completions`, headers, body }] : []),
    { name: 'node-proxy', url: `http://127.0.0.1:${nodeProxyPort}/v1/chat/completions`, headers, body },
    { name: 'gateway', url: `http://127.0.0.1:${gwPort}/v1/chat/completions`, headers, body },
  ];
  if (!nginxPort) console.warn('nginx not found (apt-get install nginx-light): skipping the nginx baseline');

  const k = keyCheckMicros();
  console.log(
    `key check (${KEYS} records): precheck ${k.precheckUs.toFixed(2)} µs = parseKey ${k.parseUs.toFixed(2)} µs + verifyKey(sha256) ${k.verifyUs.toFixed(2)} µs + scopes/IP`,
  );

  const rows: string[] = [
    '| rate | target | p50 ms | p99 ms | added p50 ms | added p99 ms |',
    '|---|---|---|---|---|---|',
  ];
  for (const rps of RATES) {
    const res: Record<string, { p50: number; p99: number }> = {};
    for (const t of targets) {
      const lat = await fixedRate(t, rps, SECONDS);
      res[t.name] = { p50: percentile(lat, 50), p99: percentile(lat, 99) };
    }
    const d = res.direct!;
    for (const t of targets) {
      const r = res[t.name]!;
      const added = t.name === 'direct' ? ['—', '—'] : [fmt(r.p50 - d.p50), fmt(r.p99 - d.p99)];
      rows.push(`| ${rps}/s | ${t.name} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${added[0]} | ${added[1]} |`);
    }
  }
  if (RATES.length > 0) console.log(rows.join('\n'));

  const wrk = which('wrk');
  const tput: Record<string, number> = {};
  const cpuUs: Record<string, number> = {};
  for (const t of targets) {
    const pid = pids[t.name]!;
    const before = cpuSeconds(pid);
    const t0 = performance.now();
    tput[t.name] = await maxThroughput(t, CONNECTIONS, SECONDS, wrk, tmp);
    // wrk's warm-up run is included in the CPU window, so count its requests at the same rate
    const requests = tput[t.name]! * ((performance.now() - t0) / 1000);
    cpuUs[t.name] = ((cpuSeconds(pid) - before) * 1e6) / requests;
  }
  const tRows = ['| target | req/s | vs direct | vs nginx | CPU µs/request of that hop |', '|---|---|---|---|---|'];
  for (const t of targets) {
    const r = tput[t.name]!;
    tRows.push(
      `| ${t.name} | ${r.toFixed(0)} | ${(r / tput.direct!).toFixed(2)} | ${tput.nginx ? (r / tput.nginx).toFixed(2) : 'n/a'} | ${cpuUs[t.name]!.toFixed(0)} |`,
    );
  }
  console.log(`max throughput (${wrk ? 'wrk -t1' : 'node:http'} -c${CONNECTIONS}, ${SECONDS}s):\n${tRows.join('\n')}`);
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
