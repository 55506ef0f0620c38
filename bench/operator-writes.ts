// Counting API writes from the API server's side: apiserver_request_total (a counter the server keeps
// per verb, resource, subresource and code) read through `kubectl get --raw /metrics`, diffed between
// two snapshots. This counts every mutating request — including ones answered 409/AlreadyExists —
// so "0 writes" means the operator did not even try.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);

export type WriteCounts = Map<string, number>;

export async function apiWriteCounts(kubectl: string, kubeconfig: string): Promise<WriteCounts> {
  const { stdout } = await run(kubectl, ['--kubeconfig', kubeconfig, 'get', '--raw', '/metrics'], {
    maxBuffer: 256 * 1024 * 1024,
  });
  const counts: WriteCounts = new Map();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!MUTATING.has(labels.verb ?? '')) continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''} ${labels.code}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

/** What the operator writes; the API server itself renews its own Leases etc. in the background. */
export const OPERATOR_RESOURCES = /^\S+ (apikeys|teams|secrets|events|configmaps)(\/\S+)? /;

/** after − before, only the non-zero entries whose "VERB resource[/sub] code" matches `only`. */
export function diffWrites(before: WriteCounts, after: WriteCounts, only: RegExp = OPERATOR_RESOURCES): WriteCounts {
  const out: WriteCounts = new Map();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0 && only.test(k)) out.set(k, d);
  }
  return out;
}

export const totalWrites = (w: WriteCounts): number => [...w.values()].reduce((a, b) => a + b, 0);

export const formatWrites = (w: WriteCounts): string =>
  w.size === 0
    ? 'none'
    : [...w]
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ');
