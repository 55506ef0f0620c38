import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../controlplane/process.ts';

// A real redis-server child process per test file, on a free loopback port, no persistence.
// Missing binary: fatal in CI (a skipped Redis suite would prove nothing), a loud skip locally.

export function redisServerPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'redis-server');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when Redis tests can run; warns loudly or throws (CI) otherwise. */
export function requireRedis(): boolean {
  if (redisServerPath() !== undefined) return true;
  const msg = 'redis-server not found on PATH (apt-get install -y redis-server)';
  if (process.env.CI) throw new Error(`${msg}; CI is set, so this is fatal`);
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!!! WARNING: ${msg}.\n!!! THE SHARED-REDIS RATE LIMIT / BUDGET TESTS ARE SKIPPED.\n${bar}\n`);
  return false;
}

export interface RedisProcess {
  url: string;
  stop(): Promise<void>;
  /** Stops it and starts an empty one (no persistence) on the same port: a Redis restart. */
  restart(): Promise<void>;
}

function spawnRedis(bin: string, port: number): { child: ChildProcess; stop(): Promise<void> } {
  const child: ChildProcess = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { child, stop };
}

export async function startRedis(): Promise<RedisProcess> {
  const bin = redisServerPath();
  if (bin === undefined) throw new Error('redis-server not found');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    let current = spawnRedis(bin, port);
    const url = `redis://127.0.0.1:${port}`;
    const restart = async () => {
      await current.stop();
      for (let i = 0; i < 20; i++) {
        current = spawnRedis(bin, port);
        if (await waitForPing(url, current.child)) return;
        await current.stop(); // the port may still be in TIME_WAIT for a moment
      }
      throw new Error(`redis-server did not restart on port ${port}`);
    };
    if (await waitForPing(url, current.child)) return { url, stop: () => current.stop(), restart };
    await current.stop();
    if (attempt >= 3) throw new Error('redis-server did not start');
  }
}

async function waitForPing(url: string, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {}); // refused until the server listens: expected while polling
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return true;
    } catch {
      // not up yet (or the port was taken: the child exits and we retry)
    } finally {
      probe.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
