// `keys list` rendering: ApiKey objects → table rows. Pure: the clock is a parameter.
import { sourceIpEntries } from './source-ips.ts';
import type { ApiKeyObject } from './model.ts';
import { byName, currentEntry, supersededIds } from './model.ts';
import { keyState } from './state.ts';
import { cellList, formatTable } from './table.ts';
import { relativeTime } from './time.ts';

export const LIST_HEADERS = [
  'NAME',
  'TEAM',
  'ENV',
  'MODELS',
  'ENDPOINTS',
  'IPS',
  'CURRENT KEY',
  'SUPERSEDED',
  'STATE',
  'EXPIRES',
  'LAST USED',
  'REQUESTS',
  'CREDITS',
] as const;

const NONE = '<none>';

/** "abcd1234efgh5678 …x9Qz": the id names the key in logs and metrics, the hint matches what a workload holds. */
export function currentKeyCell(obj: ApiKeyObject): string {
  const id = obj.status?.currentKeyId;
  if (!id) return NONE;
  const hint = currentEntry(obj)?.hint;
  return hint ? `${id} …${hint}` : id;
}

export function expiresCell(obj: ApiKeyObject, now: Date): string {
  const rel = relativeTime(obj.status?.expiresAt, now);
  if (rel) return rel;
  const exp = obj.spec?.expiration;
  return exp === undefined || exp === 'Never' ? 'Never' : exp;
}

export function listRow(obj: ApiKeyObject, now: Date): string[] {
  const spec = obj.spec ?? {};
  const usage = obj.status?.usage;
  return [
    obj.metadata.name,
    spec.team ?? NONE,
    spec.environment ?? '-',
    cellList(spec.allowedModels, '(team)'),
    cellList(spec.allowedEndpoints, '(team)'),
    // Without a list of its own a key gets its Team's sources, which may be confined.
    cellList(sourceIpEntries(spec), '(team)'),
    currentKeyCell(obj),
    cellList(supersededIds(obj), '-'),
    keyState(obj),
    expiresCell(obj, now),
    relativeTime(obj.status?.lastUsedAt, now) ?? 'never',
    String(usage?.requests ?? 0),
    String(usage?.credits ?? 0),
  ];
}

/** The whole table; with allNamespaces a NAMESPACE column comes first, as in `kubectl get -A`. */
export function renderList(objs: readonly ApiKeyObject[], opts: { allNamespaces: boolean; now: Date }): string {
  const sorted = [...objs].sort(byName);
  const headers = opts.allNamespaces ? ['NAMESPACE', ...LIST_HEADERS] : [...LIST_HEADERS];
  const rows = sorted.map((o) => {
    const row = listRow(o, opts.now);
    return opts.allNamespaces ? [o.metadata.namespace ?? '', ...row] : row;
  });
  return formatTable(headers, rows);
}
