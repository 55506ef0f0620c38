// Builds (once per version) the real kube-apiserver, kube-controller-manager, kubectl and etcd from published
// Go modules, so integration tests run against genuine Kubernetes without Docker or downloads beyond the Go proxy.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, accessSync, constants as fsc } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile, copyFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withBuildLock } from './build-lock.ts';
import { apiserverGoMod, etcdGoMod, normaliseVersion, versionLdflags } from './gomod.ts';

/** The one setting for which Kubernetes we test against (latest v1.34 patch on proxy.golang.org). */
export const DEFAULT_K8S_VERSION = '1.34.12';

export interface Binaries {
  kubeApiserver: string;
  kubeControllerManager: string;
  etcd: string;
  kubectl: string;
  version: string;
}

export interface EnsureBinariesOptions {
  /** Kubernetes version; default env NEMOKEYS_K8S_VERSION, then DEFAULT_K8S_VERSION. */
  version?: string;
  /** Progress sink; the first build takes many minutes, so silence would look like a hang. */
  log?: (line: string) => void;
}

const TARGETS = {
  kubeApiserver: ['apiserver', 'k8s.io/kubernetes/cmd/kube-apiserver'],
  // Same module as kube-apiserver: one go.sum, one set of compiled dependencies (docs/design.md §6).
  kubeControllerManager: ['apiserver', 'k8s.io/kubernetes/cmd/kube-controller-manager'],
  kubectl: ['apiserver', 'k8s.io/kubernetes/cmd/kubectl'],
  etcd: ['etcd', '.'],
} as const;

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_MODULES = { apiserver: join(HERE, 'go', 'apiserver'), etcd: join(HERE, 'go', 'etcd') };

export function resolveVersion(version?: string): string {
  return normaliseVersion(version ?? process.env.NEMOKEYS_K8S_VERSION ?? DEFAULT_K8S_VERSION);
}

export function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'nemokeys');
}

export function binDir(version: string): string {
  return join(cacheRoot(), `k8s-${normaliseVersion(version)}`);
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function hasGo(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const BINARY_FILES: Record<keyof typeof TARGETS, string> = {
  kubeApiserver: 'kube-apiserver',
  kubeControllerManager: 'kube-controller-manager',
  kubectl: 'kubectl',
  etcd: 'etcd',
};
const BINARY_KEYS = Object.keys(BINARY_FILES) as (keyof typeof TARGETS)[];

function pathsIn(dir: string, version: string): Binaries {
  const b = Object.fromEntries(BINARY_KEYS.map((k) => [k, join(dir, BINARY_FILES[k])])) as Omit<Binaries, 'version'>;
  return { ...b, version };
}

/**
 * setup-envtest style asset dir, e.g. produced by `setup-envtest use -p path`. envtest ships no
 * kube-controller-manager: when the dir lacks one, the cache's (built for the same version) stands in.
 */
function fromKubebuilderAssets(log: (l: string) => void): Binaries | undefined {
  const dir = process.env.KUBEBUILDER_ASSETS;
  if (!dir) return undefined;
  const b = pathsIn(dir, '');
  if (![b.kubeApiserver, b.etcd, b.kubectl].every(isExecutable)) {
    log(`KUBEBUILDER_ASSETS=${dir} lacks kube-apiserver, etcd or kubectl; ignoring it`);
    return undefined;
  }
  const out = execFileSync(b.kubeApiserver, ['--version'], { encoding: 'utf8' }); // "Kubernetes v1.34.1"
  const version = out.trim().replace(/^Kubernetes v/, '');
  if (!isExecutable(b.kubeControllerManager)) b.kubeControllerManager = cachePaths(version).kubeControllerManager;
  return { ...b, version };
}

function cachePaths(version: string): Binaries {
  return pathsIn(binDir(version), version);
}

const missingFrom = (b: Binaries) => BINARY_KEYS.filter((k) => !isExecutable(b[k]));

/** Binaries usable without building (KUBEBUILDER_ASSETS or the cache), else undefined. */
export function readyBinaries(version?: string, log: (l: string) => void = () => {}): Binaries | undefined {
  const bins = (version ? undefined : fromKubebuilderAssets(log)) ?? cachePaths(resolveVersion(version));
  return missingFrom(bins).length === 0 ? bins : undefined;
}

export async function ensureBinaries(opts: EnsureBinariesOptions = {}): Promise<Binaries> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[controlplane] ${l}\n`));
  const ready = readyBinaries(opts.version, log);
  if (ready) return ready;

  // With KUBEBUILDER_ASSETS only what the assets lack (kube-controller-manager) is built, into the cache.
  const assets = opts.version ? undefined : fromKubebuilderAssets(log);
  const version = assets ? normaliseVersion(assets.version) : resolveVersion(opts.version);
  const dir = binDir(version);
  const bins = assets ?? cachePaths(version);

  if (!hasGo()) {
    throw new Error(
      `Go toolchain not found on PATH: install Go >= 1.25 to build ${missingFrom(bins).join(', ')}, ` +
        'or set KUBEBUILDER_ASSETS to a directory holding kube-apiserver, kube-controller-manager, etcd and kubectl',
    );
  }
  await mkdir(dir, { recursive: true });
  return withBuildLock(dir, log, async () => {
    // The lock holder before us may have built them.
    const missing = missingFrom(bins);
    return missing.length === 0 ? bins : buildMissing(version, dir, bins, missing, log);
  });
}

async function buildMissing(
  version: string,
  dir: string,
  bins: Binaries,
  missing: (keyof typeof TARGETS)[],
  log: (l: string) => void,
): Promise<Binaries> {
  log(`building Kubernetes v${version} (${missing.join(', ')}) from source into ${dir}`);
  log(
    'first run only: downloading modules and compiling takes a long time (measured ~17 CPU-minutes, ' +
      '~30 min wall on a busy 2-core VM); later runs reuse the cached binaries',
  );
  await mkdir(dir, { recursive: true });
  // A private work dir per build: concurrent runs never trample each other's go.mod/go.sum.
  const work = await mkdtemp(join(dir, 'build-'));
  try {
    const started = Date.now();
    await writeModules(work, version, log);
    for (const key of missing) {
      const [mod, pkg] = TARGETS[key];
      // Build under a temp name and rename: an interrupted build never leaves a half binary behind.
      const tmp = `${bins[key]}.tmp-${process.pid}`;
      await goBuild(join(work, mod), pkg, tmp, version, log, started);
      await rename(tmp, bins[key]);
      log(`built ${bins[key]} (${elapsed(started)})`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return bins;
}

/**
 * Writes the two wrapper modules into `work`. The repo keeps go.mod/go.sum for the default version;
 * when the generated go.mod matches the committed one we reuse its go.sum so hashes stay pinned.
 */
async function writeModules(
  work: string,
  version: string,
  log: (l: string) => void,
): Promise<Record<'apiserver' | 'etcd', string>> {
  log(`resolving k8s.io/kubernetes@v${version} via the Go module proxy`);
  const info = JSON.parse(await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@v${version}`], work));
  if (info.Error) throw new Error(`go mod download k8s.io/kubernetes@v${version}: ${info.Error}`);
  const k8sGoMod = await readFile(info.GoMod as string, 'utf8');
  const generated = { apiserver: apiserverGoMod(k8sGoMod, version), etcd: etcdGoMod(k8sGoMod, version) };
  for (const mod of ['apiserver', 'etcd'] as const) {
    const target = join(work, mod);
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'go.mod'), generated[mod]);
    const repo = REPO_MODULES[mod];
    const committed = existsSync(join(repo, 'go.mod')) ? await readFile(join(repo, 'go.mod'), 'utf8') : '';
    if (committed === generated[mod] && existsSync(join(repo, 'go.sum'))) {
      await copyFile(join(repo, 'go.sum'), join(target, 'go.sum'));
    }
    if (existsSync(join(repo, 'main.go'))) await copyFile(join(repo, 'main.go'), join(target, 'main.go'));
  }
  return generated;
}

function goEnv(): NodeJS.ProcessEnv {
  // Static binaries; never let go silently fetch a different toolchain.
  return { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local' };
}

async function goBuild(
  cwd: string,
  pkg: string,
  out: string,
  version: string,
  log: (l: string) => void,
  started: number,
): Promise<void> {
  const args = ['build', '-mod=mod', '-trimpath', '-v', '-ldflags', versionLdflags(version), '-o', out, pkg];
  const name = pkg === '.' ? 'etcd' : pkg.split('/').pop()!;
  let packages = 0;
  let downloads = 0;
  const tail: string[] = [];
  const child = spawn('go', args, { cwd, env: goEnv(), stdio: ['ignore', 'inherit', 'pipe'] });
  const timer = setInterval(() => {
    log(`  ${name}: ${downloads} modules downloaded, ${packages} packages compiled (${elapsed(started)})`);
  }, 20_000);
  let buf = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith('go: downloading')) downloads++;
      else packages++;
      tail.push(l);
      if (tail.length > 40) tail.shift();
    }
  });
  const code = await new Promise<number | null>((res, rej) => child.on('error', rej).on('close', res));
  clearInterval(timer);
  if (code !== 0) {
    await rm(out, { force: true });
    throw new Error(`go ${args.join(' ')} failed (exit ${code}):\n${tail.join('\n')}${buf}`);
  }
}

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd, env: goEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', rej).on('close', (code) => {
      // `go mod download -json` exits 1 but still prints JSON with an Error field; let callers see it.
      if (code === 0 || out.trim().startsWith('{')) res(out);
      else rej(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${err}`));
    });
  });
}

function elapsed(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * Regenerates the committed go.mod/go.sum of both wrapper modules for `version` (resolving go.sum
 * without compiling). Run `node controlplane/build.ts lock` after bumping DEFAULT_K8S_VERSION.
 */
export async function writeLockFiles(version = resolveVersion()): Promise<void> {
  const log = (l: string) => process.stderr.write(`[controlplane] ${l}\n`);
  await mkdir(cacheRoot(), { recursive: true });
  const work = await mkdtemp(join(cacheRoot(), `lock-${version}-`));
  try {
    const generated = await writeModules(work, version, log);
    const pkgs = { apiserver: [] as string[], etcd: [] as string[] };
    for (const [mod, pkg] of Object.values(TARGETS)) pkgs[mod].push(pkg);
    for (const mod of ['apiserver', 'etcd'] as const) {
      await run('go', ['list', '-mod=mod', '-deps', ...pkgs[mod]], join(work, mod));
      await mkdir(REPO_MODULES[mod], { recursive: true });
      // Keep the pristine generated go.mod (go list added indirect requires to the work copy) so
      // ensureBinaries can recognise it byte for byte; go.sum covers the whole resolved graph.
      await writeFile(join(REPO_MODULES[mod], 'go.mod'), generated[mod]);
      await copyFile(join(work, mod, 'go.sum'), join(REPO_MODULES[mod], 'go.sum'));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cmd = process.argv[2];
  if (cmd === 'lock') await writeLockFiles();
  else console.log(JSON.stringify(await ensureBinaries(), null, 2));
}
