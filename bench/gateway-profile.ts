import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from './processes.ts';

// CPU profile of one proxy under wrk load: where the gateway's time per request goes.
//   npx node bench/gateway-profile.ts [gateway|node-proxy]   env: SECONDS=10 CONNECTIONS=32 TOP=40
// Starts the bench upstream and the target with --cpu-prof, drives it with wrk, then prints self
// time by function and by file (node internals grouped), from the .cpuprofile the target leaves.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const target = process.argv[2] ?? 'gateway';
const SECONDS = Number(process.env.SECONDS ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const TOP = Number(process.env.TOP ?? 40);
// function names whose call stacks to print (comma-separated), e.g. CALLERS=randomFillSync,resolve
const CALLERS = (process.env.CALLERS ?? '').split(',').filter(Boolean);
const here = new URL('.', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'nemokeys-prof-'));
const children: ChildProcess[] = [];

const start = (args: string[]) => startNode(args, children);

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

function shortFile(url: string): string {
  if (url === '') return '(native/vm)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const i = url.indexOf('/work/');
  return i >= 0 ? url.slice(url.indexOf('/', i + 6) + 1) : url;
}

function frameName(n: ProfileNode): string {
  return `${n.callFrame.functionName || '(anonymous)'} ${shortFile(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
}

/** Self time by function and file over the load window only (start-up and module loading left out). */
function summarise(p: Profile): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  const stacks = new Map<string, number>();
  const windowStart = p.endTime - SECONDS * 1e6; // µs; the target is stopped right after wrk ends
  let t = p.startTime;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    const n = byId.get(p.samples[i]!);
    if (n === undefined || t < windowStart) continue;
    total += dt;
    const f = shortFile(n.callFrame.url);
    const name = frameName(n);
    fn.set(name, (fn.get(name) ?? 0) + dt);
    file.set(f, (file.get(f) ?? 0) + dt);
    if (CALLERS.includes(n.callFrame.functionName)) {
      const chain: string[] = [];
      for (let id: number | undefined = n.id; id !== undefined && chain.length < 8; id = parent.get(id))
        chain.push(frameName(byId.get(id)!));
      const key = chain.join('\n      <- ');
      stacks.set(key, (stacks.get(key) ?? 0) + dt);
    }
  }
  for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 10))
    console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP))
      console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
  };
  show('self time by function', fn);
  show('self time by file', file);
}

try {
  const up = await start([join(here, 'gateway-upstream.ts')]);
  const upstreamPort = up.line;
  const script = join(here, target === 'node-proxy' ? 'gateway-nodeproxy.ts' : 'gateway-server.ts');
  const prof = await start(['--cpu-prof', '--cpu-prof-dir', tmp, script, upstreamPort, '10000']);
  const [port, key] = prof.line.split(' ');
  const lua = join(tmp, 'post.lua');
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say ok.' }],
    max_tokens: 4,
  });
  writeFileSync(
    lua,
    `${[
      `wrk.method = "POST"`,
      `wrk.body = ${JSON.stringify(body)}`,
      `wrk.headers["content-type"] = "application/json"`,
      `wrk.headers["authorization"] = "Bearer ${key ?? ''}"`,
    ].join('\n')}\n`,
  );
  const out = await run('wrk', [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${SECONDS}s`,
    '-s',
    lua,
    `http://127.0.0.1:${port}/v1/chat/completions`,
  ]);
  console.log(
    out
      .split('\n')
      .filter((l) => /Requests\/sec|Non-2xx/.test(l))
      .join('\n'),
  );
  const exited = new Promise((r) => prof.child.once('exit', r));
  prof.child.kill('SIGTERM');
  await exited;
  const file = readdirSync(tmp).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('no .cpuprofile written');
  summarise(JSON.parse(readFileSync(join(tmp, file), 'utf8')) as Profile);
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
