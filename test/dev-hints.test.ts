// `nemokeys dev` as a newcomer runs it (README's first command): a child process on its own state dir and
// free ports, then the hints it prints are followed literally — the "In another shell" block runs in bash
// (kubectl alias, the Secret read, curl through the gateway, `npx nemokeys keys …`), the keys page URL
// logs in — and Ctrl-C stops every process it started and removes its state.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_ENTRY, NODE_BIN_DIR, REPO, runProcess } from '../cli/keys/testing-process.ts';
import { hasCluster } from './support/cluster.ts';

const node = join(NODE_BIN_DIR, 'node');
const READY = 'Ctrl-C stops everything.';

/** Pids of live processes whose command line mentions `needle` (the dev run's private state dir). */
function processesMentioning(needle: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
        return cmd.includes(needle) ? [`${pid}: ${cmd.slice(0, 200)}`] : [];
      } catch {
        return [];
      }
    });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Only needs the harness's built binaries (dev builds/reuses the same cache); not its control plane.
describe.skipIf(!hasCluster())('nemokeys dev: the printed hints, followed literally', () => {
  const work = mkdtempSync(join(tmpdir(), 'nemokeys-dev-test-'));
  const dir = join(work, 'controlplane');
  let child: ChildProcessWithoutNullStreams | undefined;
  let stdout = '';
  let stderr = '';

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      // etcd, kube-apiserver, kube-controller-manager name the state dir in their arguments; dev itself too.
      expect(processesMentioning(work).length).toBeGreaterThanOrEqual(4);
      child.kill('SIGINT');
      await new Promise((done) => setTimeout(done, 15_000));
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // A failed run may leave the detached control plane behind: stop it the way a user would.
    await runProcess(node, [CLI_ENTRY, 'controlplane', 'down', '--dir', dir], { PATH: process.env.PATH });
    rmSync(work, { recursive: true, force: true });
  });

  it('prints working hints (kubectl, curl, keys page, keys list); Ctrl-C stops everything, exit 0', async () => {
    // Free ports (0) and a private state dir, so it cannot collide with the harness or another run.
    const dev = spawn(node, [CLI_ENTRY, 'dev', '--dir', dir, '--port', '0', '--metrics-port', '0'], {
      cwd: REPO,
      env: { PATH: `${NODE_BIN_DIR}:${process.env.PATH ?? ''}`, HOME: process.env.HOME },
    });
    child = dev;
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    await new Promise<void>((done, fail) => {
      const timer = setInterval(() => {
        if (stdout.includes(READY)) {
          clearInterval(timer);
          done();
        }
      }, 100);
      dev.once('exit', (code) => {
        clearInterval(timer);
        fail(new Error(`dev exited ${code} before it was ready\n${stdout}\n${stderr}`));
      });
    });

    const pids = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as Record<string, unknown>;
    const controlPlanePids = ['etcd', 'apiserver', 'controllerManager'].map((k) => pids[k] as number);
    for (const pid of controlPlanePids) expect(alive(pid), `pid ${pid} of ${JSON.stringify(pids)}`).toBe(true);

    const pageUrl = /keys page\s+(\S+)/.exec(stdout)![1]!;
    const gatewayUrl = /gateway\s+(http:\S+)/.exec(stdout)![1]!;
    const upstreamUrl = /demo upstream\s+(\S+)/.exec(stdout)![1]!;
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(stdout)![1]!;
    expect(kubeconfig).toBe(join(dir, 'kubeconfig'));

    // The "In another shell" block, verbatim, as a bash script (aliases on, stop at the first failure).
    const block = stdout.split('In another shell:\n')[1]!.split('\n\n')[0]!;
    const script = join(work, 'hints.sh');
    writeFileSync(script, `shopt -s expand_aliases\nset -euo pipefail\n${block}\n`);
    const shell = await runProcess('bash', [script], {
      PATH: `${NODE_BIN_DIR}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME,
    });
    expect(shell.code, `${block}\n--- stdout\n${shell.stdout}\n--- stderr\n${shell.stderr}`).toBe(0);
    expect(shell.stdout).toMatch(/apikey\.keys\.nemorouter\.io\/dev-checkout-service/); // kubectl get teams,apikeys
    expect(shell.stdout).toContain('"chat.completion"'); // curl answered by the demo upstream via the gateway
    expect(shell.stdout).toMatch(/dev-checkout-service\s/); // keys list

    // The plaintext key: where the hint says it is (the workload Secret), and nowhere in dev's output.
    const kubectl = /alias kubectl=(\S+)/.exec(stdout)![1]!;
    const key = Buffer.from(
      execFileSync(
        kubectl,
        ['get', 'secret', 'dev-checkout-service', '-n', 'checkout', '-o', 'jsonpath={.data.api-key}'],
        { env: { KUBECONFIG: kubeconfig, HOME: work }, encoding: 'utf8' },
      ),
      'base64',
    ).toString();
    expect(key.length).toBeGreaterThan(20);

    // The keys page URL: its token logs in once (303 + session cookie), then the page loads.
    const login = await fetch(pageUrl, { redirect: 'manual' });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(new URL('/', pageUrl), { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const session = await fetch(new URL('/api/session', pageUrl), { headers: { cookie } });
    expect(await session.json()).toMatchObject({ namespace: 'checkout' });

    child.kill('SIGINT');
    const code = await new Promise<number | null>((done) => dev.once('exit', done));
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toContain('stopping…');

    for (const pid of controlPlanePids) expect(alive(pid), `pid ${pid} still alive`).toBe(false);
    expect(processesMentioning(work)).toEqual([]);
    for (const url of [pageUrl, gatewayUrl, upstreamUrl]) {
      await expect(fetch(url), `${url} still answers`).rejects.toThrow();
    }
    expect(existsSync(join(dir, 'pids.json'))).toBe(false);
    expect(stdout + stderr).not.toContain(key);
  });
});
