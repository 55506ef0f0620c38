// The real `nemokeys gateway` as a child process reading the records an operator benchmark produced,
// for its memory with N records. It never forwards anything here (the upstream is a closed port).
import { spawn } from 'node:child_process';
import { freePort } from '../controlplane/process.ts';
import { inCgroup, type MemoryCgroup } from './cgroup.ts';
import { NODE_24, REPO, procRssBytes, sumMetric } from './operator-process.ts';

export interface GatewayProcess {
  readonly pid: number;
  /** Records in its store (nemokeys_gateway_records_loaded), undefined until it answers. */
  records(): Promise<number | undefined>;
  rssBytes(): number | undefined;
  stop(): Promise<void>;
}

export async function spawnGateway(opts: {
  kubeconfig: string;
  recordsNamespace: string;
  nodeArgs?: string[];
  /** Runs inside this memory cgroup (the chart's limit, as in a Pod). */
  cgroup?: MemoryCgroup;
}): Promise<GatewayProcess> {
  const [port, metricsPort, closed] = [await freePort(), await freePort(), await freePort()];
  const [cmd, args] = inCgroup(opts.cgroup, NODE_24, [
    ...(opts.nodeArgs ?? []),
    `${REPO}/bin/nemokeys.js`,
    'gateway',
    '--upstream',
    `http://127.0.0.1:${closed}`,
    '--listen',
    `127.0.0.1:${port}`,
    '--metrics-port',
    String(metricsPort),
    '--records-namespace',
    opts.recordsNamespace,
    '--kubeconfig',
    opts.kubeconfig,
    '--gateway-id',
    'bench-gateway',
    '--log-level',
    'warn',
    '--no-per-key-labels',
  ]);
  const child = spawn(cmd, args, {
    cwd: REPO,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    pid: child.pid!,
    records: async () => {
      try {
        return sumMetric(
          await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
          'nemokeys_gateway_records_loaded',
        );
      } catch {
        return undefined;
      }
    },
    rssBytes: () => procRssBytes(child.pid!),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
