// `nemokeys dev` as the README's quick start runs it: its own control plane, the examples, and the hints it
// prints. Claims checked where they happen: `keys history` names who changed a key and from which IP (the
// dev operator has its own identity, so the person's changes are not taken for the operator's own), and
// Ctrl-C (SIGINT) stops everything promptly, control plane included.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_ENTRY, NODE_BIN_DIR, REPO, runKeys } from '../cli/keys/testing-process.ts';
import { controlPlaneDown, controlPlaneStatus } from '../controlplane/detached.ts';
import { hasCluster } from './support/cluster.ts';

interface Entry {
  action: string;
  actor: string;
  impersonatedBy?: string;
  sourceIp?: string;
}

describe.skipIf(!hasCluster())('nemokeys dev (child process)', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'nemokeys-dev-test-')), 'controlplane');
  let child: ReturnType<typeof spawn> | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await controlPlaneDown({ dir });
  });

  it('keys history shows the person and source IP of each change; SIGINT stops everything', async () => {
    child = spawn(join(NODE_BIN_DIR, 'node'), [CLI_ENTRY, 'dev', '--dir', dir, '--port', '0', '--metrics-port', '0'], {
      cwd: REPO,
      env: { ...process.env, PATH: `${NODE_BIN_DIR}:${process.env.PATH ?? ''}` },
    });
    const printed = await new Promise<string>((done, fail) => {
      let out = '';
      child!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ctrl-C stops everything')) done(out);
      });
      child!.once('exit', (code) => fail(new Error(`nemokeys dev exited ${code} before it was running:\n${out}`)));
    });
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(printed)![1]!;
    const kubectl = /alias kubectl=(\S+)/.exec(printed)![1]!;
    execFileSync(
      kubectl,
      [
        'patch',
        'apikey',
        'stage-checkout-service',
        '-n',
        'checkout',
        '--type',
        'merge',
        '-p',
        '{"spec":{"rateLimit":{"requestsPerMinute":61}}}',
        '--as',
        'carol',
        '--as-group',
        'system:masters',
      ],
      { env: { ...process.env, KUBECONFIG: kubeconfig } },
    );

    let entries: Entry[] = [];
    await expect
      .poll(
        async () => {
          const r = await runKeys(['history', 'stage-checkout-service', '-n', 'checkout', '-o', 'json'], kubeconfig);
          entries = r.code === 0 ? (JSON.parse(r.stdout) as Entry[]) : [];
          return r.code === 0 ? entries.map((e) => e.action) : r.stderr;
        },
        { timeout: 60_000, interval: 1000 },
      )
      .toEqual(['create', 'edit']);
    // The examples were applied by the admin; carol's edit is hers (impersonated), both from loopback.
    expect(entries[0]).toMatchObject({ action: 'create', actor: 'nemokeys-admin', sourceIp: '127.0.0.1' });
    expect(entries[1]).toMatchObject({
      action: 'edit',
      actor: 'carol',
      impersonatedBy: 'nemokeys-admin',
      sourceIp: '127.0.0.1',
    });

    child.kill('SIGINT');
    const code = await new Promise<number | null>((done) => child!.once('exit', done));
    expect(code).toBe(0);
    expect(controlPlaneStatus({ dir })).toBeUndefined();
    expect(existsSync(join(dir, 'pids.json'))).toBe(false);
  }, 180_000);
});
