// The operator's and gateway's Kubernetes client (docs/design.md §7): JSON over node:https with one pool
// of keep-alive connections. It replaces client-node in these two processes because client-node's import
// alone costs ~70 MiB of RSS (its generated API), and its per-request object model (undici fetch, web
// streams, (de)serialisation into model classes) was a third of the operator's CPU per issued key
// (bench/README.md "Operator"). Objects stay the API server's JSON: timestamps are strings.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isAbsolute, join } from 'node:path';
import { KubeApiError } from './errors.ts';
import type { Credentials, ExecPlugin, KubeConnection } from './kubeconfig.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON (objects) or as is (strings). */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Default REQUEST_TIMEOUT_MS: a request that hangs must not hold a worker forever. */
  timeoutMs?: number;
}

export type WatchEvent = (type: string, object: unknown) => void;

export const REQUEST_TIMEOUT_MS = 60_000;
/** client-go re-reads a token file at most once a minute; projected tokens rotate well before expiry. */
const TOKEN_FILE_TTL_MS = 60_000;

/** Builds the Authorization header value for the connection's credentials, refreshed as they require. */
class CredentialSource {
  readonly #credentials: Credentials;
  #cached: { value: string | undefined; until: number } | undefined;
  #pending: Promise<string | undefined> | undefined;

  constructor(credentials: Credentials) {
    this.#credentials = credentials;
  }

  /** After a 401: the next request gets fresh credentials (exec plugin run again, token file re-read). */
  invalidate(): void {
    this.#cached = undefined;
  }

  get refreshable(): boolean {
    return this.#credentials.kind === 'exec' || this.#credentials.kind === 'token-file';
  }

  async authorization(): Promise<string | undefined> {
    const c = this.#credentials;
    switch (c.kind) {
      case 'none':
        return undefined;
      case 'token':
        return `Bearer ${c.token}`;
      case 'basic':
        return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
      case 'token-file':
      case 'exec': {
        if (this.#cached && Date.now() < this.#cached.until) return this.#cached.value;
        this.#pending ??= this.#refresh(c).finally(() => {
          this.#pending = undefined;
        });
        return this.#pending;
      }
    }
  }

  async #refresh(c: Extract<Credentials, { kind: 'token-file' | 'exec' }>): Promise<string | undefined> {
    if (c.kind === 'token-file') {
      let token: string;
      try {
        token = readFileSync(c.path, 'utf8').trim();
      } catch (err) {
        throw new Error(`token file ${c.path}: ${(err as Error).message}`);
      }
      this.#cached = { value: `Bearer ${token}`, until: Date.now() + TOKEN_FILE_TTL_MS };
      return this.#cached.value;
    }
    const { token, expiresAt } = await runExecPlugin(c.exec);
    // Refresh a little before the plugin's expiry; without one, until the server says 401.
    const until = expiresAt === undefined ? Number.POSITIVE_INFINITY : expiresAt - 10_000;
    this.#cached = { value: `Bearer ${token}`, until };
    return this.#cached.value;
  }
}

/** client.authentication.k8s.io ExecCredential: runs the plugin, returns its token (client-go's exec). */
function runExecPlugin(p: ExecPlugin): Promise<{ token: string; expiresAt?: number }> {
  const command = p.command.includes('/') && !isAbsolute(p.command) ? join(p.dir, p.command) : p.command;
  const info = JSON.stringify({ apiVersion: p.apiVersion, kind: 'ExecCredential', spec: { interactive: false } });
  const env = { ...process.env, ...p.env, KUBERNETES_EXEC_INFO: info };
  return new Promise((resolve, reject) => {
    execFile(command, p.args, { env, timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) return reject(new Error(`exec plugin ${p.command}: ${err.message.split('\n')[0]}`));
      let status: { token?: unknown; expirationTimestamp?: unknown; clientCertificateData?: unknown } | undefined;
      try {
        status = (JSON.parse(stdout) as { status?: typeof status }).status;
      } catch {
        return reject(new Error(`exec plugin ${p.command}: output is not an ExecCredential (JSON)`));
      }
      if (typeof status?.token !== 'string' || status.token === '') {
        const why = status?.clientCertificateData ? 'returned a client certificate (only tokens are supported)' : '';
        return reject(new Error(`exec plugin ${p.command}: ${why || 'returned no status.token'}`));
      }
      const exp = typeof status.expirationTimestamp === 'string' ? Date.parse(status.expirationTimestamp) : Number.NaN;
      resolve({ token: status.token, ...(Number.isFinite(exp) ? { expiresAt: exp } : {}) });
    });
  });
}

function impersonationHeaders(conn: KubeConnection): http.OutgoingHttpHeaders {
  const imp = conn.impersonate;
  if (!imp) return {};
  // node:http sends an array as repeated header lines: one group per line, as the API server expects.
  const headers: http.OutgoingHttpHeaders = { 'Impersonate-User': imp.user };
  if (imp.groups.length > 0) headers['Impersonate-Group'] = imp.groups;
  if (imp.uid !== undefined) headers['Impersonate-Uid'] = imp.uid;
  for (const [key, values] of Object.entries(imp.extra)) {
    if (values.length > 0) headers[`Impersonate-Extra-${encodeURIComponent(key)}`] = values;
  }
  return headers;
}

function urlOf(server: string, path: string, query: Query | undefined): string {
  if (!query) return server + path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${server}${path}?${qs}` : server + path;
}

function parseBody(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class KubeClient {
  readonly connection: KubeConnection;
  readonly #agent: http.Agent;
  readonly #transport: typeof http | typeof https;
  readonly #credentials: CredentialSource;
  readonly #fixedHeaders: http.OutgoingHttpHeaders;

  constructor(connection: KubeConnection, opts: { userAgent?: string; maxSockets?: number } = {}) {
    this.connection = connection;
    const secure = connection.server.startsWith('https:');
    this.#transport = secure ? https : http;
    this.#agent = secure
      ? new https.Agent({
          keepAlive: true,
          maxSockets: opts.maxSockets ?? 64,
          scheduling: 'lifo',
          ca: connection.ca,
          cert: connection.cert,
          key: connection.key,
          rejectUnauthorized: !connection.insecureSkipTLSVerify,
          ...(connection.tlsServerName ? { servername: connection.tlsServerName } : {}),
        })
      : new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64, scheduling: 'lifo' });
    this.#credentials = new CredentialSource(connection.credentials);
    this.#fixedHeaders = {
      Accept: 'application/json',
      'User-Agent': opts.userAgent ?? 'nemokeys',
      ...impersonationHeaders(connection),
    };
  }

  /** Closes idle connections (open watches end when their controllers abort). */
  close(): void {
    this.#agent.destroy();
  }

  async #headers(extra: http.OutgoingHttpHeaders): Promise<http.OutgoingHttpHeaders> {
    const authorization = await this.#credentials.authorization();
    return { ...this.#fixedHeaders, ...(authorization ? { Authorization: authorization } : {}), ...extra };
  }

  /** One API call; resolves to the parsed JSON body, rejects with KubeApiError on an error status. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    try {
      return await this.#requestOnce<T>(method, path, opts);
    } catch (err) {
      // Expired exec / token-file credentials: refresh once, like client-go.
      if (!(err instanceof KubeApiError && err.code === 401 && this.#credentials.refreshable)) throw err;
      this.#credentials.invalidate();
      return this.#requestOnce<T>(method, path, opts);
    }
  }

  async #requestOnce<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
    let payload: Buffer | undefined;
    const extra: http.OutgoingHttpHeaders = {};
    if (opts.body !== undefined) {
      payload = Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
      extra['Content-Type'] = opts.contentType ?? 'application/json';
      extra['Content-Length'] = payload.length;
    }
    const headers = await this.#headers(extra);
    const url = urlOf(this.connection.server, path, opts.query);
    const what = `${method} ${path}`;
    return new Promise<T>((resolve, reject) => {
      const req = this.#transport.request(url, {
        method,
        agent: this.#agent,
        headers,
        signal: opts.signal,
        timeout: opts.timeoutMs ?? REQUEST_TIMEOUT_MS,
      });
      req.on('timeout', () =>
        req.destroy(new Error(`${what}: no answer within ${opts.timeoutMs ?? REQUEST_TIMEOUT_MS} ms`)),
      );
      req.on('error', reject);
      req.on('response', (res) => {
        // Decoded as it arrives: a list page (~1.5 MB) never sits in one malloc'd Buffer, which glibc
        // keeps resident after it is freed (docs/design.md §7.1); the V8 string goes with the next GC.
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('error', reject);
        res.on('end', () => {
          const body = parseBody(text);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(body as T);
          else reject(new KubeApiError(status, body, what));
        });
      });
      req.end(payload);
    });
  }

  /**
   * A watch stream (kube/informer.ts's WatchLike): `onEvent` per JSON line, `done` once when it ends
   * (cleanly: undefined; else the error, an error status as KubeApiError). Resolves once the response
   * started (or failed), with the controller that ends it.
   */
  async watch(path: string, query: Query, onEvent: WatchEvent, done: (err: unknown) => void): Promise<AbortController> {
    const controller = new AbortController();
    let finished = false;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      done(err);
    };
    let headers: http.OutgoingHttpHeaders;
    try {
      headers = await this.#headers({});
    } catch (err) {
      finish(err);
      return controller;
    }
    const url = urlOf(this.connection.server, path, { ...query, watch: true });
    await new Promise<void>((started) => {
      const req = this.#transport.request(url, {
        method: 'GET',
        agent: this.#agent,
        headers,
        signal: controller.signal,
      });
      req.on('error', (err) => {
        finish(err);
        started();
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => {
            if (status === 401) this.#credentials.invalidate();
            finish(new KubeApiError(status, parseBody(text), `watch ${path}`));
          });
          res.on('error', finish);
          started();
          return;
        }
        let rest = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const text = rest + chunk;
          let start = 0;
          for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
            const line = text.slice(start, nl);
            start = nl + 1;
            if (line.trim() === '') continue;
            let event: { type?: unknown; object?: unknown };
            try {
              event = JSON.parse(line) as typeof event;
            } catch {
              req.destroy(new Error(`watch ${path}: a line that is not JSON`));
              return;
            }
            try {
              onEvent(String(event.type), event.object);
            } catch (err) {
              req.destroy(err as Error);
              return;
            }
          }
          rest = text.slice(start);
        });
        res.on('end', () => finish(undefined));
        res.on('error', finish);
        res.on('close', () => finish(controller.signal.aborted ? controller.signal.reason : undefined));
        started();
      });
      req.end();
    });
    return controller;
  }
}
