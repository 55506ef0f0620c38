// Turns what @kubernetes/client-node throws into one sentence that says what to do. Pure: the
// I/O layer adds what only another API call can tell (which ApiKeys exist, whether a namespace does).
import { isApiError } from '../../kube/errors.ts';
import { GROUP, KINDS } from '../../api/index.ts';

/** An error meant for the user: printed as is, no stack trace, non-zero exit. */
export class CliError extends Error {
  override name = 'CliError';
  exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Where the CLI was talking to, for messages about reaching or authenticating to the cluster. */
export interface TargetInfo {
  source: string;
  context: string;
  server: string;
}

/** What the failed call was doing, phrased as RBAC would (verb + resource). */
export interface CallInfo {
  verb: 'get' | 'list' | 'patch' | 'create' | 'update';
  namespace?: string;
  name?: string;
}

interface Status {
  reason?: string;
  message?: string;
  details?: { kind?: string; name?: string; group?: string; causes?: { field?: string; message?: string }[] };
}

export type KubeFailure =
  | { kind: 'unreachable'; reason: string }
  | { kind: 'tls'; reason: string }
  | { kind: 'unauthorized' }
  | { kind: 'forbidden'; message: string }
  | { kind: 'crd-missing' }
  | { kind: 'not-found'; resource: string; name: string | undefined }
  | { kind: 'already-exists' }
  | { kind: 'conflict' }
  | { kind: 'invalid'; message: string }
  | { kind: 'other'; message: string };

/** undici wraps the socket error: "fetch failed" → cause (sometimes an AggregateError) → code. */
function innermostCause(err: unknown): { code: string | undefined; message: string } | undefined {
  let found: { code: string | undefined; message: string } | undefined;
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const rec = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown[] };
    if (depth > 0)
      found = { code: typeof rec.code === 'string' ? rec.code : undefined, message: String(rec.message ?? rec.code) };
    e = rec.cause ?? rec.errors?.[0];
  }
  return found;
}

const isFetchFailure = (err: unknown): boolean =>
  err instanceof Error && (err.message === 'fetch failed' || err.name === 'FetchError' || err.name === 'AbortError');

export function parseStatus(body: unknown): Status | undefined {
  if (typeof body === 'object' && body !== null) return body as Status;
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Status) : undefined;
  } catch {
    return undefined;
  }
}

export function classifyKubeError(err: unknown): KubeFailure {
  if (isApiError(err)) {
    const status = parseStatus(err.body);
    switch (err.code) {
      case 401:
        return { kind: 'unauthorized' };
      case 403:
        return { kind: 'forbidden', message: status?.message ?? '' };
      case 404:
        // An object that does not exist is a Status{reason: NotFound}; an API group/resource the
        // server does not serve is a bare "404 page not found".
        if (status?.reason === 'NotFound') {
          return { kind: 'not-found', resource: status.details?.kind ?? '', name: status.details?.name };
        }
        return { kind: 'crd-missing' };
      case 409:
        return status?.reason === 'AlreadyExists' ? { kind: 'already-exists' } : { kind: 'conflict' };
      case 422: {
        const causes = (status?.details?.causes ?? []).map((c) => `${c.field ?? ''}: ${c.message ?? ''}`);
        return {
          kind: 'invalid',
          message: causes.length > 0 ? causes.join('; ') : (status?.message ?? 'invalid object'),
        };
      }
      default:
        return {
          kind: 'other',
          message: `HTTP ${err.code}: ${status?.message ?? 'unexpected response from the API server'}`,
        };
    }
  }
  if (isFetchFailure(err)) {
    const cause = innermostCause(err);
    const reason = cause?.message ?? (err as Error).message;
    if (cause?.code && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(cause.code)) return { kind: 'tls', reason };
    return { kind: 'unreachable', reason };
  }
  return { kind: 'other', message: err instanceof Error ? err.message : String(err) };
}

const RESOURCE = `${KINDS.apiKey.plural}.${GROUP}`;

const where = (t: TargetInfo) => `${t.server} (context "${t.context}" from ${t.source})`;

/** The message for a failure that needs no further lookups. */
export function explainFailure(f: KubeFailure, call: CallInfo, target: TargetInfo): string {
  const scope = call.namespace ? `in namespace "${call.namespace}"` : 'in all namespaces (cluster-wide)';
  switch (f.kind) {
    case 'unreachable':
      return (
        `cannot reach the Kubernetes API server at ${where(target)}: ${f.reason}. ` +
        'Check that the cluster is running and that --kubeconfig / --context (or KUBECONFIG) point at it.'
      );
    case 'tls':
      return `TLS verification failed talking to ${where(target)}: ${f.reason}. Check the cluster CA in the kubeconfig.`;
    case 'unauthorized':
      return (
        `the API server at ${where(target)} rejected the credentials (401 Unauthorized). ` +
        'Refresh them (log in again / renew the token) or pick another --context.'
      );
    case 'forbidden': {
      const need = roleFor(call.verb);
      return (
        `forbidden: you may not ${call.verb} ${RESOURCE} ${scope}. ` +
        `You need role "${need.role}" to ${need.to} (the Helm chart's ClusterRole; the namespace's built-in ` +
        `"${need.builtIn}" role includes it): ask a cluster admin for a ` +
        `${call.namespace ? 'RoleBinding' : 'ClusterRoleBinding (for -A)'} to it, or for a Role${call.namespace ? '' : ' (ClusterRole, for -A)'} ` +
        `granting verb "${call.verb}" on resource "${KINDS.apiKey.plural}" in API group "${GROUP}". (server said: ${f.message})`
      );
    }
    case 'crd-missing':
      return (
        `the API server at ${target.server} does not serve ${RESOURCE}: the nemokeys CRDs are not installed. ` +
        'Install them with "nemokeys crds | kubectl apply --server-side -f -" or install the nemokeys Helm chart.'
      );
    case 'not-found':
      return f.resource === 'namespaces'
        ? `namespace "${f.name ?? call.namespace}" not found. List namespaces with "kubectl get namespaces".`
        : `${f.resource || 'object'} "${f.name ?? call.name}" not found ${scope}.`;
    case 'already-exists':
      return `ApiKey "${call.name}" already exists ${scope}. Pick another name.`;
    case 'conflict':
      return `ApiKey "${call.name}" kept changing while we updated it (409 Conflict). Try again.`;
    case 'invalid':
      return `the API server rejected the ApiKey "${call.name}": ${f.message}`;
    case 'other':
      return `${call.verb} ${RESOURCE} ${call.name ? `"${call.name}" ` : ''}${scope} failed: ${f.message}`;
  }
}

/**
 * The chart's user-facing role that grants `verb` on ApiKeys (charts/nemokeys/templates/user-rbac.yaml; named
 * for the default release "nemokeys") and the built-in role it is aggregated into by default.
 */
export function roleFor(verb: CallInfo['verb']): { role: string; to: string; builtIn: string } {
  return verb === 'get' || verb === 'list'
    ? { role: 'nemokeys-key-viewer', to: 'see ApiKeys and their usage', builtIn: 'view' }
    : { role: 'nemokeys-key-editor', to: 'create, edit, rotate or revoke ApiKeys', builtIn: 'edit' };
}

/** How many existing names an "unknown ApiKey" error lists before it stops. */
const MAX_SUGGESTIONS = 20;

/**
 * "not found", plus what the user probably meant. `here`: names in the namespace (undefined when we
 * may not list them); `elsewhere`: namespaces holding an ApiKey of that name.
 */
export function unknownApiKeyMessage(
  name: string,
  namespace: string,
  here: string[] | undefined,
  elsewhere: string[],
): string {
  const parts = [`ApiKey "${name}" not found in namespace "${namespace}".`];
  if (elsewhere.length > 0)
    parts.push(`It exists in namespace ${elsewhere.map((n) => `"${n}"`).join(', ')}: add -n ${elsewhere[0]}.`);
  if (here && here.length > 0) {
    const names = [...here].sort();
    const more = names.length > MAX_SUGGESTIONS ? `, … (${names.length} in all)` : '';
    parts.push(`ApiKeys in "${namespace}": ${names.slice(0, MAX_SUGGESTIONS).join(', ')}${more}.`);
  } else if (here) {
    parts.push(`There are no ApiKeys in "${namespace}"; see every namespace with "keys list -A".`);
  }
  return parts.join(' ');
}
