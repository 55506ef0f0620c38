// The real `helm` CLI for chart tests, built once per version from its Go module into the same user cache
// as the control-plane binaries (no download beyond the Go module proxy). Missing Go: fatal in CI, a loud
// skip locally, exactly like test/global-setup.ts treats the control plane.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheRoot, hasGo, isExecutable } from '../../controlplane/build.ts';
import { parse, parseAllDocuments } from 'yaml';

/** The one setting for which Helm the chart is tested with. */
export const HELM_VERSION = '3.22.0';
const HELM_PACKAGE = 'helm.sh/helm/v3/cmd/helm';

export function helmPath(version = HELM_VERSION): string {
  return join(cacheRoot(), `helm-${version}`, 'helm');
}

/**
 * A required external tool is missing. In CI that is fatal: a silently skipped suite would be a green build
 * that proved nothing. Locally it prints a banner and returns undefined so the caller can skip.
 */
export function reportMissingTool(tool: string, why: string, fix: string): undefined {
  const msg = `${tool} is not available (${why})`;
  if (process.env.CI) throw new Error(`${msg}; CI is set, so this is fatal. ${fix}`);
  const bar = '!'.repeat(100);
  console.warn(
    `\n${bar}\n!!! WARNING: ${msg}.\n!!! TESTS THAT NEED ${tool.toUpperCase()} ARE SKIPPED. ${fix}\n${bar}\n`,
  );
  return undefined;
}

/**
 * Path of a helm binary of HELM_VERSION, building it with `go install` the first time (a few minutes on
 * 2 cores). The build goes to a private temp dir and is renamed into place, so concurrent runs never see
 * half a binary. Returns undefined (after a loud warning) only outside CI.
 */
export async function ensureHelm(
  log: (l: string) => void = (l) => process.stderr.write(`[helm] ${l}\n`),
): Promise<string | undefined> {
  const target = helmPath();
  if (isExecutable(target)) return target;
  if (!hasGo())
    return reportMissingTool('helm', 'no cached binary and no Go toolchain to build it', 'Install Go >= 1.25.');
  const dir = join(cacheRoot(), `helm-${HELM_VERSION}`);
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, 'build-'));
  log(`building helm v${HELM_VERSION} from ${HELM_PACKAGE} into ${dir} (first run only, several minutes)`);
  try {
    const ldflags = `-s -w -X helm.sh/helm/v3/internal/version.version=v${HELM_VERSION}`;
    await runGo(['install', '-trimpath', '-ldflags', ldflags, `${HELM_PACKAGE}@v${HELM_VERSION}`], { GOBIN: work });
    await rename(join(work, 'helm'), target);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  log(`built ${target}`);
  return target;
}

function runGo(args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    // Static binary; never let go fetch a different toolchain behind our back.
    const child = spawn('go', args, {
      env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let tail = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (tail = (tail + d).slice(-4000)));
    child.on('error', reject).on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`go ${args.join(' ')} failed (exit ${code}):\n${tail}`));
    });
  });
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a CLI and resolves with its exit code and output (never rejects on a non-zero exit). */
export function runTool(
  bin: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

export const CHART_DIR = join(import.meta.dirname, '..', '..', 'charts', 'nemokeys');

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};

/** `helm template` of charts/nemokeys with `--set` pairs; returns the rendered YAML text, throws with helm's error. */
export async function helmTemplateText(
  helm: string,
  opts: {
    release?: string;
    namespace?: string;
    set?: Record<string, string | number | boolean>;
    extra?: string[];
  } = {},
): Promise<string> {
  const sets = Object.entries(opts.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  const res = await runTool(helm, [
    'template',
    opts.release ?? 'nk',
    CHART_DIR,
    '--namespace',
    opts.namespace ?? 'nemokeys-system',
    ...sets,
    ...(opts.extra ?? []),
  ]);
  if (res.code !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return res.stdout;
}

/** Rendered chart as objects (empty documents dropped). */
export async function renderChart(
  helm: string,
  opts: Parameters<typeof helmTemplateText>[1] = {},
): Promise<K8sObject[]> {
  const text = await helmTemplateText(helm, opts);
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => !!o);
}

/**
 * The install notes `helm install` prints for charts/nemokeys with `--set` pairs (client-side dry run).
 * --take-ownership: the release's objects may exist already (applied from `helm template`); notes ignore them.
 */
export async function chartNotes(
  helm: string,
  kubeconfig: string,
  opts: { release: string; namespace: string; set?: Record<string, string | number | boolean> },
): Promise<string> {
  const sets = Object.entries(opts.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  const res = await runTool(helm, [
    'install',
    opts.release,
    CHART_DIR,
    '-n',
    opts.namespace,
    '--dry-run=client',
    '--take-ownership',
    '--kubeconfig',
    kubeconfig,
    ...sets,
  ]);
  if (res.code !== 0) throw new Error(`helm install --dry-run failed: ${res.stderr}`);
  return res.stdout.slice(res.stdout.indexOf('NOTES:'));
}

/** The gateway sidecar the install notes tell users to add, and the serviceAccountName they tell them to set. */
export function sidecarFromNotes(notes: string): { container: Record<string, unknown>; serviceAccountName: string } {
  const block = /add this container:\n\n([\s\S]*?)\n\n/.exec(notes)?.[1];
  const serviceAccountName = /set +serviceAccountName: (\S+)/.exec(notes)?.[1];
  if (!block || !serviceAccountName)
    throw new Error(`install notes without a sidecar block or serviceAccountName:\n${notes}`);
  const container = (parse(block.replace(/^ {4}/gm, '')) as Record<string, unknown>[])[0]!;
  return { container, serviceAccountName };
}
