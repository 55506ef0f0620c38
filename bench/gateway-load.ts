import { spawn } from 'node:child_process';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Load generation for bench/gateway.ts: an open-loop fixed-rate generator (requests leave on a
// schedule, whatever the answers do, so a slow target cannot slow the load down) and a closed-loop
// max-throughput run (wrk when installed, else keep-alive node:http workers).

export interface Target {
  name: string;
  url: string; // http://127.0.0.1:port/v1/chat/completions
  headers: Record<string, string>;
  body: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function send(agent: http.Agent, t: Target): Promise<number> {
  const u = new URL(t.url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { ...t.headers, 'content-length': Buffer.byteLength(t.body) },
      },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`${t.name}: HTTP ${res.statusCode}`));
        res.resume();
        res.on('end', () => resolve(performance.now() - started));
      },
    );
    req.on('error', reject);
    req.end(t.body);
  });
}

/** Latencies (ms, sorted) of `rps` requests per second for `seconds`, after a 1 s warm-up. */
export async function fixedRate(t: Target, rps: number, seconds: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const run = (count: number, record: boolean) =>
    new Promise<number[]>((resolve, reject) => {
      const out: number[] = [];
      const interval = 1000 / rps;
      const start = performance.now();
      let sent = 0;
      let done = 0;
      const tick = () => {
        const due = Math.min(count, Math.floor((performance.now() - start) / interval) + 1);
        for (; sent < due; sent++) {
          send(agent, t).then((ms) => {
            if (record) out.push(ms);
            if (++done === count) resolve(out);
          }, reject);
        }
        if (sent < count) setTimeout(tick, 1);
      };
      tick();
    });
  await run(rps, false);
  const lat = await run(rps * seconds, true);
  agent.destroy();
  return lat.sort((a, b) => a - b);
}

/** Requests per second with `connections` concurrent keep-alive connections for `seconds`. */
export async function maxThroughput(
  t: Target,
  connections: number,
  seconds: number,
  wrk: string | undefined,
  tmp: string,
): Promise<number> {
  if (wrk !== undefined) {
    const script = join(tmp, `wrk-${t.name}.lua`);
    const lines = [`wrk.method = "POST"`, `wrk.body = ${JSON.stringify(t.body)}`];
    for (const [k, v] of Object.entries(t.headers))
      lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
    writeFileSync(script, `${lines.join('\n')}\n`);
    // warm-up, then the measured run
    await runWrk(wrk, ['-t1', `-c${connections}`, '-d2s', '-s', script, t.url]);
    const out = await runWrk(wrk, ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', script, t.url]);
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
    if (/Non-2xx/.test(out)) throw new Error(`${t.name}: non-2xx answers under load:\n${out}`);
    if (rps === undefined) throw new Error(`could not parse wrk output:\n${out}`);
    return Number(rps);
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const until = performance.now() + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        await send(agent, t);
        count++;
      }
    }),
  );
  agent.destroy();
  return count / seconds;
}

function runWrk(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}`))));
  });
}
