// The real `nemokeys operator` as a child process (Node 24 from node_modules, like
// `npx node bin/nemokeys.js operator`, but spawned directly so SIGKILL hits the operator itself and
// not an npx wrapper). Shared by the operator benchmarks and the resilience / leader-election tests.
// The metrics port is picked by the operator (port 0) and read from its "operator started" log line.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inCgroup, type MemoryCgroup } from './cgroup.ts';

export const REPO = resolve(import.meta.dirname, '..');
export const NODE_24 = join(REPO, 'node_modules', '.bin', 'node');
const CLI = join(REPO, 'bin', 'nemokeys.js');

/**
 * Warms Node's compile cache (bin/warm-compile-cache.js) for processes spawned with `env`, as the image
 * does at build time: without it the first run of new code also loads the TypeScript stripper (~17 MiB)
 * and the memory measured is not what a deployment holds. Node keys the cache by its V8 flags too, so warm
 * it with the flags the processes get.
 */
export function warmCompileCache(env: NodeJS.ProcessEnv, nodeArgs: string[] = []): void {
  execFileSync(NODE_24, [...nodeArgs, join(REPO, 'bin', 'warm-compile-cache.js')], { cwd: REPO, env, stdio: 'ignore' });
}

export interface OperatorProcessOptions {
  kubeconfig: string;
  recordsNamespace: string;
  leaderElect: boolean;
  leaseNamespace?: string;
  leaseName?: string;
  /** Leader-election identity (POD_NAME). */
  identity: string;
  /** info or lower: the metrics port is read from the "operator started" info line. */
  logLevel?: 'trace' | 'debug' | 'info';
  /** --workers (default: the operator's own). */
  workers?: number;
  /** Extra Node flags, e.g. --max-old-space-size. */
  nodeArgs?: string[];
  /** Runs inside this memory cgroup (the chart's limit, as in a Pod). */
  cgroup?: MemoryCgroup;
}

export type Scrape = (name: string, labels?: Record<string, string>) => number | undefined;

export interface OperatorProcess {
  readonly identity: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Every stdout/stderr line so far (JSON log lines and anything else). */
  readonly lines: string[];
  /** Resolves with the metrics port once the operator logged "operator started". */
  readonly metricsPort: Promise<number>;
  /** Resolves when the process has exited (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  /** The value of one metric series (summed over label sets matching `labels`), or undefined. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  /**
   * One scrape, read as often as needed. At 10 000 keys a scrape renders 10 000 expiry series (several
   * MB of garbage in the operator): poll with one scrape, not one per value.
   */
  scrape(): Promise<Scrape>;
  /** Resident set size of the process, from /proc (bytes). */
  rssBytes(): number | undefined;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnOperator(opts: OperatorProcessOptions): OperatorProcess {
  const args = [
    ...(opts.nodeArgs ?? []),
    CLI,
    'operator',
    '--kubeconfig',
    opts.kubeconfig,
    '--records-namespace',
    opts.recordsNamespace,
    '--metrics-port',
    '0',
    '--health-port',
    '0',
    '--bind-address',
    '127.0.0.1',
    '--log-level',
    opts.logLevel ?? 'info',
    opts.leaderElect ? '--leader-elect' : '--no-leader-elect',
    ...(opts.leaseNamespace ? ['--lease-namespace', opts.leaseNamespace] : []),
    ...(opts.leaseName ? ['--lease-name', opts.leaseName] : []),
    ...(opts.workers !== undefined ? ['--workers', String(opts.workers)] : []),
  ];
  const [cmd, argv] = inCgroup(opts.cgroup, NODE_24, args);
  const child = spawn(cmd, argv, {
    cwd: REPO,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, POD_NAME: opts.identity },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let resolvePort!: (port: number) => void;
  let rejectPort!: (err: Error) => void;
  const metricsPort = new Promise<number>((res, rej) => {
    resolvePort = res;
    rejectPort = rej;
  });
  metricsPort.catch(() => {});
  const onData = (buffer: { rest: string }) => (chunk: Buffer) => {
    const text = buffer.rest + chunk.toString('utf8');
    const parts = text.split('\n');
    buffer.rest = parts.pop() ?? '';
    for (const line of parts) {
      if (!line) continue;
      lines.push(line);
      if (process.env.OP_STDOUT) appendFileSync(process.env.OP_STDOUT, `${line}\n`);
      if (line.includes('"operator started"')) {
        try {
          resolvePort((JSON.parse(line) as { metricsPort: number }).metricsPort);
        } catch {
          /* not JSON: keep waiting */
        }
      }
    }
  };
  child.stdout!.on('data', onData({ rest: '' }));
  child.stderr!.on('data', onData({ rest: '' }));
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('exit', (code, signal) => {
      running = false;
      rejectPort(
        new Error(
          `operator ${opts.identity} exited (${code ?? signal}) before it started:\n${lines.slice(-20).join('\n')}`,
        ),
      );
      res({ code, signal });
    });
  });

  const scrape = async (): Promise<Scrape> => {
    const port = await metricsPort;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return (name, labels = {}) => sumMetric(text, name, labels);
  };
  const metric = async (name: string, labels: Record<string, string> = {}) => (await scrape())(name, labels);
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (running) child.kill(signal);
  };
  return {
    identity: opts.identity,
    pid: child.pid!,
    child,
    lines,
    metricsPort,
    exited,
    get running() {
      return running;
    },
    metric,
    scrape,
    rssBytes: () => procRssBytes(child.pid!),
    kill,
    stop: async (graceMs = 10_000) => {
      if (!running) return;
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sum of the samples of `name` whose labels include `labels` in Prometheus text format. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[3] ?? '';
    if (!Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) continue;
    sum = (sum ?? 0) + Number(m[4]);
  }
  return sum;
}

/** VmRSS of a live process in bytes (Linux), undefined when it is gone. */
export function procRssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
