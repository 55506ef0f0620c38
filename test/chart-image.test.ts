// The container image without Docker: reproduce the Dockerfile's runtime stage from its own COPY lines
// (honouring .dockerignore), install production dependencies the way its deps stage does, and run the
// ENTRYPOINT with Node 24. Proves the image holds every file and package `nemokeys operator|gateway` need.
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, matchesGlob, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../controlplane/process.ts';
import { runTool } from './support/helm.ts';

const REPO = resolve(import.meta.dirname, '..');
const NODE = process.execPath; // the repo's pinned Node 24 (vitest runs under it via npx)

type Stage = { name: string; lines: string[] };

/** Dockerfile → stages with their instructions (comments dropped, line continuations joined). */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const l of lines) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(l);
    if (from) stages.push({ name: from[1] ?? String(stages.length), lines: [] });
    else stages.at(-1)?.lines.push(l);
  }
  return stages;
}

export type Copy = { from?: string; sources: string[]; dest: string };
export function copies(stage: Stage): Copy[] {
  return stage.lines.filter((l) => /^COPY\s/i.test(l)).map((l) => {
    const words = l.split(/\s+/).slice(1);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
  });
}

/** .dockerignore patterns (no `!` exceptions: we do not use them, and guessing their semantics would lie). */
export function dockerIgnore(text: string): (path: string) => boolean {
  const patterns = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (patterns.some((p) => p.startsWith('!'))) throw new Error('.dockerignore exceptions (!) are not supported by this test');
  return (path) => patterns.some((p) => matchesGlob(path, p) || matchesGlob(path, `${p}/**`));
}

async function copyContext(src: string, dest: string, ignored: (rel: string) => boolean): Promise<void> {
  const rel = relative(REPO, src);
  if (ignored(rel)) return;
  if ((await stat(src)).isDirectory()) {
    await mkdir(dest, { recursive: true });
    for (const entry of await readdir(src)) await copyContext(join(src, entry), join(dest, entry), ignored);
  } else {
    await mkdir(dirname(dest), { recursive: true });
    await cp(src, dest);
  }
}

/** Docker COPY semantics: a directory's contents land in dest; a file lands in dest, or inside it when dest ends in "/". */
async function copyInstruction(c: Copy, fromDir: string, toDir: string, ignored: (rel: string) => boolean): Promise<void> {
  for (const s of c.sources) {
    const src = join(fromDir, s);
    const into = (await stat(src)).isFile() && (c.dest.endsWith('/') || c.sources.length > 1);
    await copyContext(src, into ? join(toDir, c.dest, basename(s)) : join(toDir, c.dest), ignored);
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out;
}

describe('Dockerfile runtime stage, reproduced without Docker', () => {
  let root: string;
  let app: string;
  let entrypoint: string[];
  const children: ChildProcess[] = [];
  const run = (args: string[]) => runTool(NODE, [...entrypoint, ...args], { cwd: app, env: { ...process.env, NODE_ENV: 'production' } });

  beforeAll(async () => {
    const stages = parseDockerfile(await readFile(join(REPO, 'Dockerfile'), 'utf8'));
    const runtime = stages.at(-1)!;
    const ignored = dockerIgnore(await readFile(join(REPO, '.dockerignore'), 'utf8'));
    root = await mkdtemp(join(tmpdir(), 'nemokeys-image-'));
    const stageDir = (name: string) => join(root, `stage-${name}`);

    // Build every stage the runtime stage copies from: its COPYs from the context, then its `npm ci`.
    for (const name of new Set(copies(runtime).flatMap((c) => (c.from ? [c.from] : [])))) {
      const stage = stages.find((s) => s.name === name)!;
      const dir = stageDir(name);
      for (const c of copies(stage)) await copyInstruction(c, REPO, dir, ignored);
      for (const l of stage.lines.filter((x) => /^RUN\s/i.test(x))) {
        const npm = /npm ci[^&;]*/.exec(l)?.[0];
        if (!npm) continue; // e.g. `npm cache clean`: nothing that changes the files we copy
        const res = await runTool('npm', npm.trim().split(/\s+/).slice(1), {
          cwd: dir, env: { ...process.env, PATH: `${dirname(NODE)}:${process.env.PATH}`, npm_config_prefer_offline: 'true' },
        });
        expect(res.code, res.stderr).toBe(0);
      }
    }
    // The runtime stage itself (WORKDIR /app).
    app = join(root, 'app');
    for (const c of copies(runtime)) {
      // --from paths are absolute inside that stage (its WORKDIR is /app, which stageDir stands for).
      if (c.from) await copyInstruction({ ...c, sources: c.sources.map((s) => relative('/app', s)) }, stageDir(c.from), app, () => false);
      else await copyInstruction(c, REPO, app, ignored);
    }
    const ep = runtime.lines.find((l) => l.startsWith('ENTRYPOINT'))!;
    const argv = JSON.parse(ep.slice('ENTRYPOINT'.length)) as string[];
    expect(argv[0]).toBe('node');
    entrypoint = argv.slice(1);
  }, 600_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('runs on Node 24, as the image does', async () => {
    expect((await runTool(NODE, ['--version'])).stdout).toMatch(/^v24\./);
  });

  it('contains no tests, dev dependencies or repo clutter', async () => {
    const files = await filesUnder(app);
    expect(files.filter((f) => f.endsWith('.test.ts') && !f.startsWith('node_modules/'))).toEqual([]);
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('charts/'))).toBe(false);
    for (const dev of ['vitest', 'typescript', 'fast-check', 'openai']) {
      expect(files.some((f) => f.startsWith(`node_modules/${dev}/`)), dev).toBe(false);
    }
    expect(files.some((f) => f.startsWith('node_modules/@kubernetes/client-node/'))).toBe(true);
  });

  it('`nemokeys operator --help` and `nemokeys gateway --help` work', async () => {
    const top = await run(['--help']);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout).toMatch(/\boperator\b/);
    expect(top.stdout).toMatch(/\bgateway\b/);
    const op = await run(['operator', '--help']);
    expect(op.code, op.stderr).toBe(0);
    for (const f of ['--records-namespace', '--metrics-port', '--health-port', '--leader-elect', '--lease-namespace', '--log-level']) {
      expect(op.stdout).toContain(f);
    }
    const gw = await run(['gateway', '--help']);
    expect(gw.code, gw.stderr).toBe(0);
    for (const f of ['--upstream', '--listen', '--records-namespace', '--metrics-port', '--redis', '--trusted-proxies', '--no-per-key-labels']) {
      expect(gw.stdout).toContain(f);
    }
  });

  it('every production module loads with production dependencies only', async () => {
    const modules = (await filesUnder(app)).filter((f) => f.endsWith('.ts') && !f.startsWith('node_modules/') && !f.startsWith('bin/'));
    expect(modules.length).toBeGreaterThan(20);
    const script = join(app, 'load-all.mjs');
    await writeFile(script, `for (const m of ${JSON.stringify(modules)}) await import('./' + m);\nconsole.log('loaded', ${modules.length});\n`);
    const res = await runTool(NODE, ['--disable-warning=ExperimentalWarning', script], { cwd: app });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`loaded ${modules.length}`);
  });

  it('starts the gateway from the image: ready, fails closed on a missing key, drains on SIGTERM', async () => {
    const records = join(root, 'records');
    await mkdir(records);
    const [port, metricsPort] = [await freePort(), await freePort()];
    const child = spawn(NODE, [...entrypoint, 'gateway', '--upstream', 'http://127.0.0.1:9', '--records-dir', records,
      '--listen', `127.0.0.1:${port}`, '--metrics-port', String(metricsPort)], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    await waitFor('gateway /readyz', async () => {
      try {
        return (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200;
      } catch {
        return false;
      }
    }, { timeoutMs: 30_000, died: () => (child.exitCode !== null ? log : undefined) });
    const res = await fetch(`http://127.0.0.1:${port}/v1/models`);
    expect(res.status).toBe(401);
    expect((await res.json()) as unknown).toMatchObject({ error: { type: expect.any(String) } });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
