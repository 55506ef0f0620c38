// Runs the real CLI as a child process (Node 24 from node_modules, like `npx node bin/nemokeys.ts`),
// for the integration tests in test/cli-keys*.test.ts.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const NODE_BIN_DIR = join(REPO, 'node_modules', '.bin');
export const CLI_ENTRY = join(REPO, 'bin', 'nemokeys.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args` and resolves with its exit code and output (never rejects on a non-zero exit). */
export function runProcess(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    execFile(file, args, { cwd: REPO, env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** `nemokeys keys …` with KUBECONFIG set (and nothing else of the parent's kube environment). */
export function runKeys(args: string[], kubeconfig: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runProcess(join(NODE_BIN_DIR, 'node'), [CLI_ENTRY, 'keys', ...args], {
    PATH: `${NODE_BIN_DIR}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME,
    KUBECONFIG: kubeconfig,
    ...extraEnv,
  });
}

const dir = mkdtempSync(join(tmpdir(), 'nemokeys-cli-test-'));

/** Writes a KubeConfig (e.g. a ServiceAccount's) to a file a child process can use. */
export function writeKubeconfig(name: string, kc: KubeConfig): string {
  const path = join(dir, `${name}.kubeconfig`);
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  return path;
}

export function writeFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

export const tempDir = (): string => dir;

/** Cells of a table row as formatTable lays it out (cells hold at most single spaces). */
export const cells = (line: string): string[] => line.trim().split(/\s{2,}/);
