// The keys page's local server (docs/design.md §11): static page + JSON API + server-sent events,
// acting with the user's kubeconfig identity. Every request passes checkRequest (Host, Origin,
// session cookie, no state-changing GET) before any route runs; nothing is logged.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { CustomObjectsApi } from '@kubernetes/client-node';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { GROUP, KINDS, VERSION } from '../api/constants.ts';
import { apiErrorMessage } from '../kube/errors.ts';
import { accessReviewer, type AccessReviewer } from './access.ts';
import { KeyActions, type ActionResult } from './actions.ts';
import { KeyFeeds, type FeedEvent } from './feed.ts';
import type { KeyForm } from './form.ts';
import { allowedHosts, checkRequest, sameToken, sessionCookieName } from './security.ts';

export interface UiOptions {
  kc: KubeConfig;
  /** The namespace the page opens on (kubeconfig context's, or --namespace). */
  namespace: string;
  listen: { host: string; port: number };
  /** Never used since creation, or unused, for this long → "candidate to revoke". */
  idleAfterMs: number;
  /** How long after create / duplicate / rotate the page may reveal the key. */
  revealWindowMs?: number;
  /** Internal problems (watch restarts); never request data. Default: silent. */
  log?: Logger;
}

export interface RunningUi {
  /** The URL to open, with the per-run token. */
  url: string;
  /** The page's origin (no token). */
  origin: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

const STATIC_DIR = join(import.meta.dirname, 'static');
const STATIC: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'format.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // The first URL carries the run token: never send it anywhere as a Referer.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DEFAULT_REVEAL_WINDOW_MS = 15 * 60_000;

/** `?namespace=` → a namespace, or undefined for all namespaces ("" or "*"); throws on anything else. */
function scopeOf(value: unknown): string | undefined {
  const ns = typeof value === 'string' ? value : '';
  if (ns === '' || ns === '*') return undefined;
  if (!NAMESPACE.test(ns)) throw Object.assign(new Error(`"${ns}" is not a namespace name`), { statusCode: 400 });
  return ns;
}

/** A namespace in a key's path: required (unlike ?namespace=, where empty means all). */
function namespaceParam(value: string): string {
  const ns = scopeOf(value);
  if (ns === undefined) throw Object.assign(new Error('a namespace is required'), { statusCode: 400 });
  return ns;
}

export async function startUi(opts: UiOptions): Promise<RunningUi> {
  const token = randomBytes(24).toString('base64url');
  const session = { name: '', value: randomBytes(24).toString('base64url') };
  const log = opts.log ?? pino({ level: 'silent' });
  const feeds = new KeyFeeds({ kc: opts.kc, log, idleAfterMs: opts.idleAfterMs });
  const access: AccessReviewer = accessReviewer(opts.kc);
  const actions = KeyActions.forKubeConfig(opts.kc, opts.namespace);
  const revealable = new Map<string, number>();
  const revealWindow = opts.revealWindowMs ?? DEFAULT_REVEAL_WINDOW_MS;
  const files = new Map(Object.keys(STATIC).map((f) => [f, readFileSync(join(STATIC_DIR, f))]));
  const index = readFileSync(join(STATIC_DIR, 'index.html'));

  // logger off: request URLs carry the run token, bodies may carry a revealed key.
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  let hosts = new Set<string>();

  app.addHook('onRequest', async (req, reply) => {
    const url = new URL(req.url, 'http://x');
    const exchange =
      req.method === 'GET' && url.pathname === '/' && sameToken(url.searchParams.get('token') ?? undefined, token);
    const verdict = checkRequest(
      {
        method: req.method,
        path: url.pathname,
        host: req.headers.host,
        origin: req.headers.origin,
        fetchSite: header(req, 'sec-fetch-site'),
        contentType: req.headers['content-type'],
        cookie: req.headers.cookie,
      },
      hosts,
      session,
      exchange,
    );
    if (!verdict.ok)
      return reply
        .code(verdict.status)
        .headers(SECURITY_HEADERS)
        .send({ errors: { _form: verdict.reason } });
    if (exchange) {
      // Swap the token for an HttpOnly, SameSite=Strict cookie and drop it from the address bar.
      return reply
        .code(303)
        .headers({
          ...SECURITY_HEADERS,
          location: '/',
          'set-cookie': `${session.name}=${session.value}; HttpOnly; SameSite=Strict; Path=/`,
        })
        .send();
    }
    reply.headers(SECURITY_HEADERS);
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const code = err.statusCode && err.statusCode < 500 ? err.statusCode : 502;
    void reply.code(code).send({ errors: { _form: code === 502 ? apiErrorMessage(err) : err.message } });
  });

  app.get('/', (_req, reply) => reply.type('text/html; charset=utf-8').send(index));
  app.get<{ Params: { file: string } }>('/static/:file', (req, reply) => {
    const body = files.get(req.params.file);
    if (!body) return reply.code(404).send({ errors: { _form: 'not found' } });
    return reply.type(STATIC[req.params.file]!).send(body);
  });

  app.get('/api/session', async () => ({
    namespace: opts.namespace,
    context: opts.kc.getCurrentContext(),
    server: opts.kc.getCurrentCluster()?.server,
  }));
  app.get<{ Querystring: { namespace?: string } }>('/api/access', async (req) => access(scopeOf(req.query.namespace)));
  app.get<{ Querystring: { namespace?: string } }>('/api/teams', async (req) => {
    const namespace = scopeOf(req.query.namespace);
    const custom = opts.kc.makeApiClient(CustomObjectsApi);
    const res = (await (namespace
      ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: KINDS.team.plural, namespace })
      : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: KINDS.team.plural })
    ).catch(() => ({ items: [] }))) as { items?: { metadata: { name: string; namespace?: string } }[] };
    return { teams: (res.items ?? []).map((t) => ({ name: t.metadata.name, namespace: t.metadata.namespace })) };
  });

  app.get<{ Querystring: { namespace?: string } }>('/api/events', async (req, reply) => {
    const namespace = scopeOf(req.query.namespace);
    const can = await access(namespace);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    const send = (event: FeedEvent | { type: 'denied'; needs: string[] }) =>
      raw.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    if (!can.list.allowed || !can.watch.allowed) {
      send({ type: 'denied', needs: [can.list, can.watch].filter((a) => !a.allowed).map((a) => a.needs) });
      raw.end();
      return;
    }
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    let unsubscribe: (() => void) | undefined;
    let closed = false;
    raw.on('close', () => {
      closed = true;
      clearInterval(heartbeat);
      unsubscribe?.();
    });
    unsubscribe = await feeds.subscribe(namespace, send);
    if (closed) unsubscribe();
  });

  type KeyParams = { ns: string; name: string };
  const keyRoute = <B>(path: string, run: (p: KeyParams, body: B) => Promise<ActionResult>) =>
    app.post<{ Params: KeyParams; Body: B }>(path, async (req, reply) => {
      namespaceParam(req.params.ns);
      const result = await run(req.params, (req.body ?? {}) as B);
      return reply.code(result.ok ? 200 : 422).send(result);
    });
  const allowReveal = (ns: string, name: string | undefined, r: ActionResult) => {
    if (r.ok && name) revealable.set(`${ns}/${name}`, Date.now() + revealWindow);
    return r;
  };

  app.post<{ Body: { namespace?: string; form?: KeyForm } }>('/api/keys', async (req, reply) => {
    const ns = scopeOf(req.body?.namespace) ?? opts.namespace;
    const result = allowReveal(ns, req.body?.form?.name?.trim(), await actions.create(ns, req.body?.form ?? {}));
    return reply.code(result.ok ? 200 : 422).send(result);
  });
  keyRoute<{ form?: KeyForm }>('/api/keys/:ns/:name/duplicate', async (p, b) =>
    allowReveal(p.ns, b.form?.name?.trim(), await actions.duplicate(p.ns, p.name, b.form ?? {})),
  );
  keyRoute<{ form?: KeyForm; resourceVersion?: string }>('/api/keys/:ns/:name/edit', (p, b) =>
    actions.edit(p.ns, p.name, b.form ?? {}, b.resourceVersion),
  );
  keyRoute('/api/keys/:ns/:name/rotate', async (p) => allowReveal(p.ns, p.name, await actions.rotate(p.ns, p.name)));
  keyRoute<{ keyId?: string }>('/api/keys/:ns/:name/revoke', (p, b) =>
    actions.revoke(p.ns, p.name, typeof b.keyId === 'string' && b.keyId !== '' ? b.keyId : undefined),
  );
  keyRoute('/api/keys/:ns/:name/handoff', (p) => actions.handoff(p.ns, p.name));
  app.get<{ Params: KeyParams }>('/api/keys/:ns/:name/history', async (req, reply) => {
    const result = await actions.history(namespaceParam(req.params.ns), req.params.name);
    return reply.code(result.ok ? 200 : 422).send(result);
  });
  app.post<{ Params: KeyParams }>('/api/keys/:ns/:name/reveal', async (req, reply) => {
    const { ns, name } = req.params;
    namespaceParam(ns);
    const until = revealable.get(`${ns}/${name}`);
    if (until === undefined || until < Date.now()) {
      return reply.code(403).send({
        ok: false,
        errors: {
          _form: 'a key can be revealed only right after you create, ' + 'duplicate or rotate it in this page',
        },
      });
    }
    const result = await actions.reveal(ns, name);
    return reply.code(result.ok ? 200 : 422).send(result);
  });

  await app.listen({ host: opts.listen.host, port: opts.listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.listen.port;
  hosts = allowedHosts(opts.listen.host, port);
  session.name = sessionCookieName(port);
  const hostPart = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  const origin = `http://${hostPart === '0.0.0.0' ? '127.0.0.1' : hostPart}:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    app,
    close: async () => {
      feeds.stop();
      await app.close();
    },
  };
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export type { FastifyReply };
