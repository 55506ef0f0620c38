import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort, sleep } from '../../controlplane/process.ts';

// `nemokeys gateway` as a real child process (as the sidecar runs in a pod), so tests can end it with
// SIGTERM (a rollout) or SIGKILL (an OOM kill, a node loss) and start it again with the same identity.

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'nemokeys.js');

export interface GatewayProcessOptions {
  upstream: URL | string;
  kubeconfig: string;
  recordsNamespace: string;
  gatewayId: string;
  reportInterval?: string;
  redis?: string;
}

export interface GatewayProcess {
  url: string;
  /** Its /metrics endpoint. */
  metricsUrl: string;
  child: ChildProcess;
  /** Everything it wrote to stderr/stdout (JSON log lines). */
  output: string[];
  /** Sends `signal` and resolves with the exit code (null when killed by a signal). */
  kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<number | null>;
}

export async function startGatewayProcess(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const args = [
    CLI,
    'gateway',
    '--upstream',
    String(o.upstream),
    '--listen',
    `127.0.0.1:${port}`,
    '--metrics-port',
    String(metricsPort),
    '--records-namespace',
    o.recordsNamespace,
    '--kubeconfig',
    o.kubeconfig,
    '--gateway-id',
    o.gatewayId,
    '--report-interval',
    o.reportInterval ?? '1s',
    '--log-level',
    'info',
  ];
  if (o.redis) args.push('--redis', o.redis);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  const output: string[] = [];
  child.stdout!.on('data', (c) => output.push(String(c)));
  child.stderr!.on('data', (c) => output.push(String(c)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = async (signal: 'SIGTERM' | 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  for (let i = 0; ; i++) {
    const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (child.exitCode !== null || i > 300) {
      await kill('SIGKILL');
      throw new Error(`gateway ${o.gatewayId} did not become ready:\n${output.join('').slice(-3000)}`);
    }
    await sleep(100);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    child,
    output,
    kill,
  };
}
