// Process plumbing shared by the in-process and the detached control plane: free ports, spawning
// with logs to files, making sure attached children never outlive us, and HTTPS readiness polling.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';

/** Ports this process already handed out: the kernel may offer a released port again at once, and a caller
 * often binds its port only later (e.g. an audit receiver started after the API server that posts to it). */
const handedOut = new Set<number>();

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A free loopback port (bind :0), never one this process handed out before. Tiny race window with other
 * processes; fine for tests and local runs. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await kernelPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

const attached = new Set<ChildProcess>();
let hooksInstalled = false;

function killAttached(): void {
  for (const c of attached) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/**
 * Node cannot set PR_SET_PDEATHSIG, so we kill attached children on every exit path we can see.
 * For signals we clean up and then re-raise, so the default behaviour (termination) still happens
 * unless someone else (e.g. vitest) handles the signal.
 */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAttached);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAttached();
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

export interface SpawnOptions {
  logFile: string;
  /** Detached children get their own session and survive us (used by `controlPlaneUp`). */
  detached?: boolean;
}

export function spawnLogged(bin: string, args: string[], opts: SpawnOptions): ChildProcess {
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(bin, args, { detached: opts.detached ?? false, stdio: ['ignore', fd, fd] });
    if (opts.detached) {
      child.unref();
    } else {
      installExitHooks();
      attached.add(child);
      child.once('exit', () => attached.delete(child));
    }
    return child;
  } finally {
    closeSync(fd); // the child has its own copy
  }
}

export function logTail(path: string, lines = 30): string {
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
}

/** Sends SIGTERM, escalates to SIGKILL after `graceMs`, resolves once the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Same as stopChild for a process we only know by pid (detached mode). */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!pidAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      await sleep(200);
      if (Date.now() > deadline + 5000) throw new Error(`process ${pid} would not die`);
    }
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface TlsClient {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Minimal HTTPS GET with the admin client cert; returns the status code (0 on connection errors). */
export function httpsGet(url: string, tls: TlsClient, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { ...tls, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

/**
 * Polls until `check` returns true. `died` lets us fail fast with the log instead of waiting out
 * the whole timeout when a process crashed on a bad flag.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  opts: {
    timeoutMs: number;
    died?: () => string | undefined;
  },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const dead = opts.died?.();
    if (dead) throw new Error(`${what}: process exited early\n${dead}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}
