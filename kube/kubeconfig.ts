// The operator's and gateway's kubeconfig loader (docs/design.md §7). client-node's KubeConfig cannot be
// imported without its whole generated API (~70 MiB of RSS before the first request; the gateway's goal is
// 128 MiB with 10 000 records), so these two processes read kubeconfig files themselves: the fields a
// controller's or sidecar's credentials use (server + CA, client certificates, tokens and token files,
// basic auth, exec plugins that return tokens, impersonation incl. several groups), found in kubectl's
// order (kube/config-source.ts). Anything else is refused with a message naming the field, never ignored.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import {
  defaultKubeConfigEnv,
  describeKubeConfigSource,
  resolveKubeConfigSource,
  type KubeConfigEnv,
} from './config-source.ts';

export interface ExecPlugin {
  command: string;
  args: string[];
  env: Record<string, string>;
  apiVersion: string;
  /** Directory of the kubeconfig that named the plugin: a relative command runs from there (kubectl). */
  dir: string;
}

export type Credentials =
  | { kind: 'none' }
  | { kind: 'token'; token: string }
  /** Re-read before it can go stale: projected ServiceAccount tokens rotate (hourly by default). */
  | { kind: 'token-file'; path: string }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'exec'; exec: ExecPlugin };

export interface Impersonation {
  user: string;
  groups: string[];
  uid?: string;
  extra: Record<string, string[]>;
}

/** Everything a request needs to reach and authenticate to one API server. */
export interface KubeConnection {
  /** e.g. https://10.0.0.1:443, without a trailing slash. */
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTLSVerify?: boolean;
  tlsServerName?: string;
  credentials: Credentials;
  impersonate?: Impersonation;
  /** The context's namespace, if any. */
  namespace?: string;
  /** Where it came from, for error messages (never contains secrets). */
  source: string;
}

type Doc = Record<string, unknown>;
type Named = { name?: unknown; [k: string]: unknown };

/** One kubeconfig document with the directory its relative paths are relative to. */
export interface KubeConfigDoc {
  doc: Doc;
  dir: string;
}

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : typeof v === 'string' ? [v] : [];
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** kubectl merges files entry by entry: the first file that defines a name wins. */
function findNamed(docs: KubeConfigDoc[], list: string, name: string): { value: Doc; dir: string } | undefined {
  for (const { doc, dir } of docs) {
    const entries = doc[list];
    if (!Array.isArray(entries)) continue;
    const entry = (entries as Named[]).find((e) => e?.name === name);
    const value = entry?.[list.slice(0, -1)];
    if (entry) return { value: (value && typeof value === 'object' ? value : {}) as Doc, dir };
  }
  return undefined;
}

export type ReadFile = (path: string) => Buffer;

/**
 * Pure apart from `read` (certificate and key files): the connection of the current context of `docs`.
 * `where` names the source in errors.
 */
export function connectionFromDocs(docs: KubeConfigDoc[], where: string, read: ReadFile): KubeConnection {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what}`);
  };
  const contextName = docs.map((d) => str(d.doc['current-context'])).find((c) => c !== undefined);
  if (!contextName) fail('no current-context');
  const context = findNamed(docs, 'contexts', contextName!)?.value ?? fail(`context "${contextName}" not found`);
  const clusterName = str(context.cluster) ?? fail(`context "${contextName}" names no cluster`);
  const cluster = findNamed(docs, 'clusters', clusterName) ?? fail(`cluster "${clusterName}" not found`);
  const userName = str(context.user);
  const user = userName ? findNamed(docs, 'users', userName) : undefined;
  if (userName && !user) fail(`user "${userName}" not found`);

  const fileOrData = (entry: { value: Doc; dir: string }, field: string): Buffer | undefined => {
    const data = str(entry.value[`${field}-data`]);
    if (data) return Buffer.from(data, 'base64');
    const file = str(entry.value[field]);
    if (!file) return undefined;
    const path = isAbsolute(file) ? file : join(entry.dir, file);
    try {
      return read(path);
    } catch (err) {
      return fail(`${field} ${path}: ${(err as Error).message}`);
    }
  };

  const c = cluster;
  const server = (str(c.value.server) ?? fail(`cluster "${clusterName}" has no server`)).replace(/\/+$/, '');
  if (str(c.value['proxy-url'])) fail(`cluster "${clusterName}": proxy-url is not supported by nemokeys`);
  const conn: KubeConnection = {
    server,
    ca: fileOrData(c, 'certificate-authority'),
    insecureSkipTLSVerify: c.value['insecure-skip-tls-verify'] === true,
    tlsServerName: str(c.value['tls-server-name']),
    credentials: { kind: 'none' },
    namespace: str(context.namespace),
    source: where,
  };
  if (!user) return conn;

  const u = user.value;
  const who = `user "${userName}"`;
  if (u['auth-provider']) fail(`${who}: auth-provider is not supported (use an exec plugin or a token)`);
  conn.cert = fileOrData(user, 'client-certificate');
  conn.key = fileOrData(user, 'client-key');
  if (!conn.cert !== !conn.key) fail(`${who}: a client certificate needs both client-certificate and client-key`);
  conn.credentials = credentialsOf(u, user.dir, who, fail);
  const as = str(u.as);
  const groups = strings(u['as-groups']);
  const uid = str(u['as-uid']);
  const extraRaw = (u['as-user-extra'] ?? {}) as Record<string, unknown>;
  const extra = Object.fromEntries(Object.entries(extraRaw).map(([k, v]) => [k, strings(v)]));
  if (!as && (groups.length > 0 || uid !== undefined || Object.keys(extra).length > 0)) {
    fail(`${who}: as-groups / as-uid / as-user-extra need "as" (the user to act as)`);
  }
  if (as) conn.impersonate = { user: as, groups, ...(uid !== undefined ? { uid } : {}), extra };
  return conn;
}

function credentialsOf(u: Doc, dir: string, who: string, fail: (what: string) => never): Credentials {
  const token = str(u.token);
  if (token) return { kind: 'token', token };
  const tokenFile = str(u.tokenFile);
  if (tokenFile) return { kind: 'token-file', path: isAbsolute(tokenFile) ? tokenFile : join(dir, tokenFile) };
  const username = str(u.username);
  if (username) return { kind: 'basic', username, password: str(u.password) ?? '' };
  const exec = u.exec as Doc | undefined;
  if (exec && typeof exec === 'object') {
    const command = str(exec.command) ?? fail(`${who}: exec has no command`);
    const env: Record<string, string> = {};
    for (const e of Array.isArray(exec.env) ? (exec.env as Named[]) : []) {
      if (typeof e?.name === 'string') env[e.name] = typeof e.value === 'string' ? e.value : '';
    }
    const apiVersion = str(exec.apiVersion) ?? 'client.authentication.k8s.io/v1';
    return { kind: 'exec', exec: { command, args: strings(exec.args), env, apiVersion, dir } };
  }
  return { kind: 'none' };
}

/** The Pod's ServiceAccount (client-go's rest.InClusterConfig). */
export function inClusterConnection(
  env: Record<string, string | undefined>,
  serviceAccountDir: string,
  read: ReadFile,
): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new Error('in-cluster: KUBERNETES_SERVICE_HOST is not set');
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const namespace = (() => {
    try {
      return read(join(serviceAccountDir, 'namespace')).toString('utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  })();
  return {
    server: `https://${hostPart}:${port}`,
    ca: read(join(serviceAccountDir, 'ca.crt')),
    credentials: { kind: 'token-file', path: join(serviceAccountDir, 'token') },
    namespace,
    source: 'in-cluster ServiceAccount',
  };
}

const readDoc = (path: string): KubeConfigDoc => {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not a kubeconfig (${(err as Error).message})`);
  }
  if (!doc || typeof doc !== 'object') throw new Error(`${path}: not a kubeconfig (empty or not a mapping)`);
  return { doc: doc as Doc, dir: dirname(path) };
};

/** Finds (kube/config-source.ts) and reads the connection, with a message that says what to fix. */
export function loadKubeConnection(opts: { kubeconfig?: string; env?: KubeConfigEnv } = {}): KubeConnection {
  const e = opts.env ?? defaultKubeConfigEnv();
  const source = resolveKubeConfigSource(opts.kubeconfig, e);
  if (source.kind === 'in-cluster') return inClusterConnection(e.env, e.serviceAccountDir, readFileSync);
  const paths = source.kind === 'env' ? source.paths : [source.path];
  return connectionFromDocs(paths.map(readDoc), describeKubeConfigSource(source), readFileSync);
}

/** A connection from a kubeconfig already in memory (e.g. client-node's `KubeConfig.exportConfig()`). */
export function connectionFromKubeConfigText(text: string, dir = process.cwd()): KubeConnection {
  return connectionFromDocs([{ doc: parse(text) as Doc, dir }], 'kubeconfig', readFileSync);
}
