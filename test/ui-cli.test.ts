// `nemokeys ui` as a user runs it: a child process whose FIRST line of output is the URL to open; the
// URL's token logs in (303 + session cookie), nothing works without it, and Ctrl-C (SIGTERM) stops it.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_ENTRY, NODE_BIN_DIR, REPO, runProcess } from '../cli/keys/testing-process.ts';
import { clusterKubeconfig, hasCluster } from './support/cluster.ts';

const node = join(NODE_BIN_DIR, 'node');

describe.skipIf(!hasCluster())('nemokeys ui (child process)', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('prints the URL first; the token logs in once, the session cookie then reads the API; SIGTERM stops it', async () => {
    const child = spawn(node, [CLI_ENTRY, 'ui', '--kubeconfig', clusterKubeconfig(), '-n', 'kube-system'], {
      cwd: REPO,
    });
    children.push(child);
    const firstLine = await new Promise<string>((done, fail) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) done(out.split('\n')[0]!);
      });
      child.once('exit', (code) => fail(new Error(`exited ${code} before printing the URL`)));
    });
    expect(firstLine).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    const url = new URL(firstLine);

    expect((await fetch(`${url.origin}/api/session`)).status).toBe(401);
    expect((await fetch(`${url.origin}/?token=wrong`, { redirect: 'manual' })).status).toBe(401);
    const login = await fetch(firstLine, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^nemokeys_ui_${url.port}=[\\w-]+; HttpOnly; SameSite=Strict; Path=/$`));
    const session = await fetch(`${url.origin}/api/session`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ namespace: 'kube-system' });
    expect(session.headers.get('content-security-policy')).toContain("script-src 'self'");

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    expect(code).toBe(0);
  });

  it('a bad --listen is refused with what to type instead', async () => {
    const r = await runProcess(
      node,
      [CLI_ENTRY, 'ui', '--kubeconfig', clusterKubeconfig(), '--listen', 'localhost'],
      process.env,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--listen localhost: expected HOST:PORT, e.g. 127.0.0.1:8080');
  });
});
