// The operator's ops endpoints on node:http: /metrics (Prometheus text), /healthz (the process
// answers), /readyz (every registered check passes: informers synced; a standby has none and is
// ready). Metrics and health may share a port or use two, like controller-runtime's
// --metrics-bind-address and --health-probe-bind-address.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export class Readiness {
  private readonly checks = new Map<string, () => boolean>();

  add(name: string, check: () => boolean): void {
    this.checks.set(name, check);
  }

  remove(name: string): void {
    this.checks.delete(name);
  }

  /** Names of the checks that fail right now (empty = ready). */
  failing(): string[] {
    const failed: string[] = [];
    for (const [name, check] of this.checks) {
      let ok = false;
      try {
        ok = check();
      } catch {
        ok = false;
      }
      if (!ok) failed.push(name);
    }
    return failed;
  }
}

export interface OpsServerOptions {
  port: number;
  host?: string;
  /** Serve /metrics from this registry. */
  registry?: Registry;
  /** Serve /healthz and /readyz. */
  readiness?: Readiness;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

function text(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

export function opsRoutes(opts: Pick<OpsServerOptions, 'registry' | 'readiness'>): Map<string, Handler> {
  const routes = new Map<string, Handler>();
  const { registry, readiness } = opts;
  if (registry) {
    routes.set('/metrics', async (_req, res) => text(res, 200, await registry.metrics(), registry.contentType));
  }
  if (readiness) {
    routes.set('/healthz', (_req, res) => text(res, 200, 'ok\n'));
    routes.set('/readyz', (_req, res) => {
      const failing = readiness.failing();
      if (failing.length === 0) text(res, 200, 'ok\n');
      else text(res, 503, `not ready: ${failing.join(', ')}\n`);
    });
  }
  return routes;
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const routes = opsRoutes(opts);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = routes.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed\n');
    if (!handler) return text(res, 404, `not found; try ${[...routes.keys()].join(' ')}\n`);
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      if (!res.headersSent) text(res, 500, `${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
