// Counting API requests from the API server's side: apiserver_request_total (a counter the server keeps
// per verb, resource, subresource and code) read through `kubectl get --raw /metrics`, diffed between
// two snapshots. Writes count every mutating request — including ones answered 409/AlreadyExists — so
// "0 writes" means the operator did not even try. Reads (GET, LIST) are counted apart: each costs the
// server a request's fixed overhead (authentication, admission of the request, TLS, its share of GC).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);
const READING = new Set(['GET', 'LIST']);

export type WriteCounts = Map<string, number>;

export async function apiWriteCounts(kubectl: string, kubeconfig: string): Promise<WriteCounts> {
  const { stdout } = await run(kubectl, ['--kubeconfig', kubeconfig, 'get', '--raw', '/metrics'], {
    maxBuffer: 256 * 1024 * 1024,
  });
  const counts: WriteCounts = new Map();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!MUTATING.has(labels.verb ?? '') && !READING.has(labels.verb ?? '')) continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''} ${labels.code}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

/** What the operator writes; the API server itself renews its own Leases etc. in the background. */
export const OPERATOR_RESOURCES = /^\S+ (apikeys|teams|secrets|events|configmaps)(\/\S+)? /;

function diffVerbs(verbs: Set<string>, before: WriteCounts, after: WriteCounts, only: RegExp): WriteCounts {
  const out: WriteCounts = new Map();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0 && only.test(k) && verbs.has(k.slice(0, k.indexOf(' ')))) out.set(k, d);
  }
  return out;
}

/** after − before: the writes (non-zero entries) whose "VERB resource[/sub] code" matches `only`. */
export const diffWrites = (before: WriteCounts, after: WriteCounts, only: RegExp = OPERATOR_RESOURCES) =>
  diffVerbs(MUTATING, before, after, only);

/** after − before: the reads (GET, LIST), as diffWrites. */
export const diffReads = (before: WriteCounts, after: WriteCounts, only: RegExp = OPERATOR_RESOURCES) =>
  diffVerbs(READING, before, after, only);

export const totalRequests = (w: WriteCounts): number => [...w.values()].reduce((a, b) => a + b, 0);

export const formatRequests = (w: WriteCounts): string =>
  w.size === 0
    ? 'none'
    : [...w]
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ');
