// kubeconfig impersonation beyond `as`. client-node reads a user's `as` (Impersonate-User) but drops
// `as-groups`, `as-uid` and `as-user-extra`, so a user whose RBAC comes through an impersonated group
// was refused where kubectl is allowed. We read those fields from the kubeconfig files ourselves and
// add the headers kubectl sends to every request of the KubeConfig (REST calls and watches alike).
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';

export interface Impersonation {
  groups: string[];
  uid?: string;
  extra: Record<string, string[]>;
}

type RawUser = { name?: unknown; user?: Record<string, unknown> };

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : typeof v === 'string' ? [v] : [];

/** Pure: the impersonation fields of user `name` in kubeconfig documents, first definition wins (kubectl). */
export function impersonationOf(docs: unknown[], name: string): Impersonation | undefined {
  for (const doc of docs) {
    const users = (doc as { users?: RawUser[] } | null)?.users;
    const entry = Array.isArray(users) ? users.find((u) => u?.name === name) : undefined;
    if (!entry) continue;
    const u = entry.user ?? {};
    const extraRaw = (u['as-user-extra'] ?? {}) as Record<string, unknown>;
    const extra = Object.fromEntries(Object.entries(extraRaw).map(([k, v]) => [k, strings(v)]));
    const groups = strings(u['as-groups']);
    const uid = typeof u['as-uid'] === 'string' ? u['as-uid'] : undefined;
    if (groups.length === 0 && uid === undefined && Object.keys(extra).length === 0) return undefined;
    return { groups, uid, extra };
  }
  return undefined;
}

/**
 * Pure: the request headers for `imp`. client-node sends one value per header name (fetch joins repeated
 * names with ", ", which the API server would read as ONE group), so more than one group or extra value
 * is refused with a message rather than silently impersonating a wrong group.
 */
export function impersonationHeaders(imp: Impersonation, user: string): Record<string, string> {
  const headers: Record<string, string> = {};
  const one = (what: string, values: string[]): string => {
    if (values.length > 1) {
      throw new Error(
        `kubeconfig user "${user}": ${what} lists ${values.length} values (${values.join(', ')}); ` +
          'nemokeys can impersonate one value per field: keep one, or bind the role to the user instead',
      );
    }
    return values[0]!;
  };
  if (imp.groups.length > 0) headers['Impersonate-Group'] = one('as-groups', imp.groups);
  if (imp.uid !== undefined) headers['Impersonate-Uid'] = imp.uid;
  for (const [key, values] of Object.entries(imp.extra)) {
    if (values.length === 0) continue;
    // Header names are case-insensitive, so keys are percent-encoded as the API server expects.
    headers[`Impersonate-Extra-${encodeURIComponent(key)}`] = one(`as-user-extra ${key}`, values);
  }
  return headers;
}

/**
 * Adds the current user's as-groups / as-uid / as-user-extra from `files` to every request of `kc`. Looked up
 * per request by the current user's name, so a later setCurrentContext (the CLI's --context) is honoured.
 */
export function applyImpersonation(kc: KubeConfig, files: string[]): KubeConfig {
  const docs = files.map((f) => parse(readFileSync(f, 'utf8')) as unknown);
  const byUser = new Map<string, Record<string, string>>();
  const headersFor = (user: { name: string; impersonateUser?: string | null }): Record<string, string> => {
    let headers = byUser.get(user.name);
    if (!headers) {
      const imp = impersonationOf(docs, user.name);
      if (imp && !user.impersonateUser) {
        throw new Error(
          `kubeconfig user "${user.name}": as-groups / as-uid / as-user-extra need "as" (the user to act as)`,
        );
      }
      headers = imp ? impersonationHeaders(imp, user.name) : {};
      byUser.set(user.name, headers);
    }
    return headers;
  };
  const current = kc.getCurrentUser();
  if (current) headersFor(current); // bad input fails at load, with the message, not on the first request
  const target = kc as unknown as { applyHTTPSOptions: (opts: { headers?: Record<string, string> }) => void };
  const original = target.applyHTTPSOptions.bind(kc);
  target.applyHTTPSOptions = (opts) => {
    original(opts);
    const user = kc.getCurrentUser();
    const headers = user ? headersFor(user) : {};
    if (Object.keys(headers).length > 0) opts.headers = { ...opts.headers, ...headers };
  };
  return kc;
}
