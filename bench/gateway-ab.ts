import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNginx } from './nginx.ts';
import { chartMemoryCgroup, inCgroup, type MemoryCgroup } from './cgroup.ts';
import { cpuSeconds, startChild } from './processes.ts';

// A/B of the gateway's CPU per request against another checkout of it, on a shared machine.
//   npx node bench/gateway-ab.ts /path/to/other/checkout      env: ROUNDS=5 SECONDS=3 CONNECTIONS=32
//                                          THIS_NODE_ARGS= OTHER_NODE_ARGS= (Node flags of each gateway)
// The other checkout needs bench/gateway-server.ts and node_modules resolvable from it (a copy made
// with `git archive <commit> api gateway bench | tar -x -C DIR` plus a node_modules symlink will do).
// Both gateways, the thinnest node:http proxy and nginx (when installed) share one upstream and are
// driven by wrk in turn, round after round, so load on the machine drifts over all of them alike; CPU
// µs per request (user+system from /proc) and req/s per round, the medians, and each gateway's
// throughput ÷ nginx's in the same rounds are printed.

const other = process.argv[2];
if (other === undefined) throw new Error('usage: gateway-ab.ts <other checkout dir>');
// Node flags per side, e.g. `gateway-ab.ts . ` with OTHER_NODE_ARGS=--optimize-for-size: one checkout, two runtimes.
const flags = (text: string | undefined) => (text ?? '').split(' ').filter(Boolean);
const THIS_NODE_ARGS = flags(process.env.THIS_NODE_ARGS);
const OTHER_NODE_ARGS = flags(process.env.OTHER_NODE_ARGS);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 3);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const here = new URL('.', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'nemokeys-ab-'));
const children: ChildProcess[] = [];

async function start(args: string[], cgroup?: MemoryCgroup): Promise<{ pid: number; line: string }> {
  const { child, line } = await startChild(...inCgroup(cgroup, process.execPath, args), children);
  return { pid: child.pid!, line };
}
// Each gateway in a cgroup of the chart's memory limit, as in a Pod: V8 sizes its young generation from
// it, and that is most of what Node flags change about the CPU per request (MEMORY_LIMITS=none: without).
const say = (line: string) => console.log(line);
const thisCgroup = chartMemoryCgroup('gateway', say, 'gateway-this');
const otherCgroup = chartMemoryCgroup('gateway', say, 'gateway-other');

function wrk(args: string[]): Promise<{ requests: number; non2xx: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.once('exit', (code) => {
      const m = /(\d+) requests in/.exec(out);
      if (code !== 0 || m === null) reject(new Error(`wrk failed:\n${out}`));
      else resolve({ requests: Number(m[1]), non2xx: /Non-2xx/.test(out) });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (THIS_NODE_ARGS.length || OTHER_NODE_ARGS.length) {
  console.log(`Node flags: this [${THIS_NODE_ARGS.join(' ')}], other [${OTHER_NODE_ARGS.join(' ')}]`);
}
try {
  const upstreamPort = (await start([join(here, 'gateway-upstream.ts')])).line;
  const targets = [
    {
      name: 'gateway (this)',
      ...(await start([...THIS_NODE_ARGS, join(here, 'gateway-server.ts'), upstreamPort, '10000'], thisCgroup)),
    },
    {
      name: 'gateway (other)',
      ...(await start(
        [...OTHER_NODE_ARGS, join(other, 'bench/gateway-server.ts'), upstreamPort, '10000'],
        otherCgroup,
      )),
    },
    { name: 'node-proxy', ...(await start([join(here, 'gateway-nodeproxy.ts'), upstreamPort])) },
  ];
  const nginx = await startNginx(Number(upstreamPort), tmp, children);
  if (nginx !== undefined) targets.push({ name: 'nginx', pid: nginx.pid, line: String(nginx.port) });
  else console.warn('nginx not found (apt-get install nginx-light): no gateway ÷ nginx ratio');
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say ok.' }],
    max_tokens: 4,
  });
  const results = new Map<string, { us: number[]; rps: number[] }>(targets.map((t) => [t.name, { us: [], rps: [] }]));
  for (const t of targets) {
    const [port, key] = t.line.split(' ');
    const lua = join(tmp, `${t.pid}.lua`);
    const lines = [
      `wrk.method = "POST"`,
      `wrk.body = ${JSON.stringify(body)}`,
      `wrk.headers["content-type"] = "application/json"`,
    ];
    if (key !== undefined) lines.push(`wrk.headers["authorization"] = "Bearer ${key}"`);
    writeFileSync(lua, `${lines.join('\n')}\n`);
    Object.assign(t, {
      args: ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '-s', lua, `http://127.0.0.1:${port}/v1/chat/completions`],
    });
    await wrk((t as unknown as { args: string[] }).args); // warm-up (JIT, keep-alive sockets)
  }
  for (let r = 0; r < ROUNDS; r++) {
    const row: string[] = [];
    // alternate the order, so neither gateway always runs right after the same neighbour
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const before = cpuSeconds(t.pid);
      const w = await wrk((t as unknown as { args: string[] }).args);
      if (w.non2xx) throw new Error(`${t.name}: non-2xx answers under load`);
      const us = ((cpuSeconds(t.pid) - before) * 1e6) / w.requests;
      results.get(t.name)!.us.push(us);
      results.get(t.name)!.rps.push(w.requests / SECONDS);
      row.push(`${t.name} ${us.toFixed(0)} µs/req ${(w.requests / SECONDS).toFixed(0)} req/s`);
    }
    console.log(`round ${r + 1}: ${row.join(' | ')}`);
  }
  const [mine, theirs] = [results.get('gateway (this)')!.us, results.get('gateway (other)')!.us];
  const ratios = mine.map((us, i) => us / theirs[i]!);
  console.log(
    `\nthis ÷ other per round: ${ratios.map((x) => x.toFixed(2)).join(' ')} (median ${median(ratios).toFixed(2)})`,
  );
  const nginxRps = results.get('nginx')?.rps;
  if (nginxRps !== undefined) {
    for (const name of ['gateway (this)', 'gateway (other)']) {
      const r = results.get(name)!.rps.map((x, i) => x / nginxRps[i]!);
      console.log(
        `${name} ÷ nginx req/s per round: ${r.map((x) => x.toFixed(2)).join(' ')} (median ${median(r).toFixed(2)})`,
      );
    }
  }
  console.log('\n| target | CPU µs/req (median, range) | req/s (median) |\n|---|---|---|');
  for (const [name, { us, rps }] of results) {
    console.log(
      `| ${name} | ${median(us).toFixed(0)} (${Math.min(...us).toFixed(0)}–${Math.max(...us).toFixed(0)}) | ${median(rps).toFixed(0)} |`,
    );
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
  await new Promise((r) => setTimeout(r, 500)); // the gateways exit, then their cgroups can go
  thisCgroup?.remove();
  otherCgroup?.remove();
}
