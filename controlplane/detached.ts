// Detached control plane for local development (`nemokeys dev up/down`): etcd, kube-apiserver and
// kube-controller-manager keep running after the calling process exits; DIR/pids.json is the only handle on them.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { auditArgs } from './audit.ts';
import { ensureBinaries } from './build.ts';
import { controllerManagerArgs, waitControllerManagerReady } from './controller-manager.ts';
import { apiserverArgs, etcdArgs, preparePlan, tlsClient, waitApiserverReady, waitEtcdReady } from './plan.ts';
import { freePort, logTail, pidAlive, spawnLogged, stopPid } from './process.ts';

export interface DetachedOptions {
  dir: string;
  version?: string;
  log?: (line: string) => void;
}

interface PidFile {
  etcd: number;
  apiserver: number;
  /** Absent in pid files written before the controller-manager joined. */
  controllerManager?: number;
  server: string;
  kubeconfig: string;
  version: string;
  startedAt: string;
  /** Port kube-apiserver's audit webhook posts to (https, loopback): the dev operator listens there. */
  auditPort?: number;
}

/** Everything controlPlaneUp creates in DIR; Down removes exactly these and never the user's files. */
const OWNED = [
  'pids.json',
  'kubeconfig',
  'pki',
  'etcd-data',
  'apiserver-certs',
  'etcd.log',
  'kube-apiserver.log',
  'controller-manager.kubeconfig',
  'kube-controller-manager.log',
  'audit-policy.yaml',
  'audit-webhook.kubeconfig',
];

function readPids(dir: string): PidFile | undefined {
  const path = join(dir, 'pids.json');
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as PidFile;
}

/** Alive and still the binary we started (guards against pid reuse after a reboot). */
function isOurs(pid: number, binary: string): boolean {
  if (!pid || !pidAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith(binary);
  } catch {
    return true; // no /proc (macOS): trust the liveness check
  }
}

function cleanDir(dir: string): void {
  for (const name of OWNED) rmSync(join(dir, name), { recursive: true, force: true });
  if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
}

/**
 * Starts etcd + kube-apiserver detached in `dir` and returns the admin kubeconfig path.
 * Refuses when `dir` already hosts a running control plane.
 */
export async function controlPlaneUp(opts: DetachedOptions): Promise<string> {
  const dir = resolve(opts.dir);
  const log = opts.log ?? ((l: string) => process.stderr.write(`[controlplane] ${l}\n`));
  const existing = readPids(dir);
  if (existing && (isOurs(existing.etcd, 'etcd') || isOurs(existing.apiserver, 'kube-apiserver'))) {
    throw new Error(
      `a control plane is already running in ${dir} (etcd pid ${existing.etcd}, ` +
        `kube-apiserver pid ${existing.apiserver}, ${existing.server}); stop it first with controlPlaneDown`,
    );
  }
  // A controller-manager that outlived its API server would keep retrying against a dead port.
  if (existing) await stopAll(existing);
  // Stale state from a crashed run would pair old etcd data with new keys: start from scratch.
  cleanDir(dir);
  const bins = await ensureBinaries({ version: opts.version, log });
  const plan = await preparePlan(dir);
  const auditPort = await freePort();
  const etcd = spawnLogged(bins.etcd, etcdArgs(plan), { logFile: plan.logs.etcd, detached: true });
  const pids: PidFile = {
    etcd: etcd.pid ?? 0,
    apiserver: 0,
    server: plan.server,
    kubeconfig: plan.kubeconfigPath,
    version: bins.version,
    startedAt: new Date().toISOString(),
    auditPort,
  };
  const save = () => writeFileSync(join(dir, 'pids.json'), `${JSON.stringify(pids, null, 2)}\n`);
  save(); // written before waiting, so a failed start can still be torn down by controlPlaneDown
  const died = (child: ChildProcess, logFile: string) => () =>
    child.exitCode === null && child.signalCode === null
      ? undefined
      : `exit ${child.exitCode ?? child.signalCode}; last log lines of ${logFile}:\n${logTail(logFile)}`;
  try {
    await waitEtcdReady(plan, died(etcd, plan.logs.etcd));
    const args = [
      ...apiserverArgs(plan),
      ...auditArgs(dir, { url: `https://127.0.0.1:${auditPort}/audit`, loopbackTls: true }),
    ];
    const api = spawnLogged(bins.kubeApiserver, args, { logFile: plan.logs.apiserver, detached: true });
    pids.apiserver = api.pid ?? 0;
    save();
    await waitApiserverReady(plan, died(api, plan.logs.apiserver));
    const cm = plan.controllerManager;
    const kcm = spawnLogged(bins.kubeControllerManager, controllerManagerArgs(cm, plan.pki), {
      logFile: cm.log,
      detached: true,
    });
    pids.controllerManager = kcm.pid ?? 0;
    save();
    await waitControllerManagerReady(plan.server, tlsClient(plan), died(kcm, cm.log));
  } catch (err) {
    await stopAll(pids);
    throw err;
  }
  log(`control plane v${bins.version} running at ${plan.server}; kubeconfig ${plan.kubeconfigPath}`);
  return plan.kubeconfigPath;
}

async function stopAll(pids: PidFile): Promise<void> {
  // Controller-manager, then API server, so neither spends its shutdown complaining about a vanished peer.
  if (pids.controllerManager && isOurs(pids.controllerManager, 'kube-controller-manager')) {
    await stopPid(pids.controllerManager);
  }
  if (isOurs(pids.apiserver, 'kube-apiserver')) await stopPid(pids.apiserver);
  if (isOurs(pids.etcd, 'etcd')) await stopPid(pids.etcd);
}

/** Stops the control plane in `dir` (if any) and removes what Up created. Returns false if none ran. */
export async function controlPlaneDown(opts: { dir: string }): Promise<boolean> {
  const dir = resolve(opts.dir);
  const pids = readPids(dir);
  const running = !!pids && (isOurs(pids.etcd, 'etcd') || isOurs(pids.apiserver, 'kube-apiserver'));
  if (pids) await stopAll(pids);
  cleanDir(dir);
  return running;
}

/** Status for `dev status`: the pid file if its processes are alive, else undefined. */
export function controlPlaneStatus(opts: { dir: string }): PidFile | undefined {
  const pids = readPids(resolve(opts.dir));
  return pids && isOurs(pids.apiserver, 'kube-apiserver') && isOurs(pids.etcd, 'etcd') ? pids : undefined;
}
