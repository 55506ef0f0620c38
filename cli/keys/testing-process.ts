// Runs the real CLI as a child process (Node 24 from node_modules, like `npx node bin/nemokeys.js`),
// for the integration tests in test/cli-keys*.test.ts.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const NODE_BIN_DIR = join(REPO, 'node_modules', '.bin');
export const CLI_ENTRY = join(REPO, 'bin', 'nemokeys.js');

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

/**
 * A plain-HTTP proxy in front of the real API server that runs `beforePatch` before forwarding each
 * PATCH, so a test can deterministically change an object between the CLI's read and its write.
 * Requests go upstream with `upstream`'s credentials; the returned kubeconfig points the CLI at it.
 */
export async function interferingProxy(
  upstream: KubeConfig,
  beforePatch: (path: string) => Promise<void>,
): Promise<{ kubeconfig: string; close(): Promise<void> }> {
  const target = new URL(upstream.getCurrentCluster()?.server ?? '');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req
      .on('data', (c: Buffer) => chunks.push(c))
      .on(
        'end',
        () =>
          void (async () => {
            if (req.method === 'PATCH') await beforePatch(req.url ?? '');
            const headers = { ...req.headers, host: target.host };
            delete headers.authorization;
            const opts: RequestOptions = {
              hostname: target.hostname,
              port: target.port,
              path: req.url,
              method: req.method,
              headers,
            };
            await upstream.applyToHTTPSOptions(opts);
            const up = request(opts, (ur) => {
              res.writeHead(ur.statusCode ?? 502, ur.headers);
              ur.pipe(res);
            });
            up.on('error', (e) => res.writeHead(502).end(String(e)));
            up.end(Buffer.concat(chunks));
          })().catch((e: unknown) => res.writeHead(500).end(String(e))),
      );
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const port = (server.address() as AddressInfo).port;
  const kubeconfig = writeFile(
    `proxy-${port}.kubeconfig`,
    `${[
      'apiVersion: v1',
      'kind: Config',
      'current-context: proxy',
      `clusters: [{name: proxy, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: proxy, user: {token: via-proxy}}]',
      'contexts: [{name: proxy, context: {cluster: proxy, user: proxy}}]',
    ].join('\n')}\n`,
  );
  return { kubeconfig, close: () => new Promise((r) => server.close(() => r())) };
}
