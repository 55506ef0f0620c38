// `keys describe` rendering: one ApiKey → kubectl-describe-like text. Pure: the clock is a parameter.
// Shows where the key lives (Secret name and data key), never what it is.
import { sourceIpEntries } from './source-ips.ts';
import { ANNOTATIONS } from '../../api/index.ts';
import type { ApiKeyObject } from './model.ts';
import { currentEntry, workloadSecret } from './model.ts';
import { currentKeyCell } from './list-view.ts';
import { attention, keyState, scopeRefusals } from './state.ts';
import { formatTable } from './table.ts';
import { absoluteAndRelative, relativeTime } from './time.ts';

const indent = (text: string, by = '  '): string =>
  `${text
    .trimEnd()
    .split('\n')
    .map((l) => by + l)
    .join('\n')}\n`;

function fields(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 2;
  return `${pairs.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n')}\n`;
}

const listOr = (items: readonly string[] | undefined, empty: string): string =>
  items && items.length > 0 ? items.join(', ') : empty;

export function rotationText(obj: ApiKeyObject): string {
  const r = obj.spec?.rotation;
  const parts = [r?.automatic ? `automatic${r.before ? `, ${r.before} before expiry` : ''}` : 'manual (keys rotate)'];
  parts.push(
    r?.handoff?.mode === 'Manual'
      ? 'manual hand-off: predecessors stay valid until you revoke them (keys handoff)'
      : `hand-off after ${r?.handoff?.idle ?? '1h'} idle, at most ${r?.handoff?.maxOverlap ?? '7d'} overlap`,
  );
  const targets = r?.restartTargets ?? [];
  if (targets.length > 0) parts.push(`restarts ${targets.map((t) => `${t.kind}/${t.name}`).join(', ')}`);
  return parts.join('; ');
}

export function limitsText(obj: ApiKeyObject): { rateLimit: string; budget: string } {
  const rl = obj.spec?.rateLimit;
  const rate = [
    rl?.requestsPerMinute !== undefined ? `${rl.requestsPerMinute} requests/min` : undefined,
    rl?.tokensPerMinute !== undefined ? `${rl.tokensPerMinute} tokens/min` : undefined,
  ].filter((s) => s !== undefined);
  const b = obj.spec?.budget;
  return {
    rateLimit: rate.length > 0 ? rate.join(', ') : 'none',
    budget: b
      ? `${b.credits} credits${b.period && b.period !== 'Never' ? ` per ${b.period === 'Daily' ? 'day' : 'month'}` : ' (lifetime)'}`
      : 'none',
  };
}

function expirationText(obj: ApiKeyObject, now: Date): string {
  const exp = obj.spec?.expiration ?? 'Never';
  const at = absoluteAndRelative(obj.status?.expiresAt ?? currentEntry(obj)?.expiresAt, now);
  return at ? `${exp} (current key expires ${at})` : exp;
}

function revokedText(obj: ApiKeyObject): string {
  if (obj.spec?.revoked) return 'yes: every key id (spec.revoked)';
  const ids = obj.spec?.revokedKeyIds ?? [];
  return ids.length > 0 ? `key ids ${ids.join(', ')} (spec.revokedKeyIds)` : 'no';
}

export function lineageTable(obj: ApiKeyObject, now: Date): string {
  // Oldest first whatever order the operator stored them in, so the table reads as a history.
  const keys = [...(obj.status?.keys ?? [])].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
  if (keys.length === 0) return '<none: the operator has not issued a key yet>\n';
  const rows = keys.map((k) => [
    k.id + (k.id === obj.status?.currentKeyId ? ' (current)' : ''),
    `…${k.hint}`,
    k.state,
    relativeTime(k.createdAt, now) ?? '-',
    relativeTime(k.expiresAt, now) ?? 'never',
    relativeTime(k.lastUsedAt, now) ?? 'never',
    String(k.requests ?? 0),
    String(k.credits ?? 0),
    k.revokedAt || k.revokedReason ? `${relativeTime(k.revokedAt, now) ?? ''} ${k.revokedReason ?? ''}`.trim() : '-',
  ]);
  return formatTable(
    ['ID', 'HINT', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED', 'REQUESTS', 'CREDITS', 'REVOKED'],
    rows,
  );
}

export function conditionsTable(obj: ApiKeyObject, now: Date): string {
  const conds = obj.status?.conditions ?? [];
  if (conds.length === 0) return '<none: the operator has not reconciled this ApiKey yet>\n';
  return formatTable(
    ['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
    conds.map((c) => [c.type, c.status, c.reason, relativeTime(c.lastTransitionTime, now) ?? '-', c.message]),
  );
}

export function renderDescribe(obj: ApiKeyObject, now: Date): string {
  const spec = obj.spec ?? {};
  const status = obj.status ?? {};
  const secret = workloadSecret(obj);
  const limits = limitsText(obj);
  const team = spec.team ?? '<none>';
  const rotateRequest = obj.metadata.annotations?.[ANNOTATIONS.rotate];
  const stale =
    status.observedGeneration !== undefined &&
    obj.metadata.generation !== undefined &&
    status.observedGeneration < obj.metadata.generation;
  const head: [string, string][] = [
    ['Name', obj.metadata.name],
    ['Namespace', obj.metadata.namespace ?? '<none>'],
    ['Team', team],
    ['Environment', spec.environment ?? '<none>'],
    ['State', keyState(obj) + (stale ? ' (status is older than the spec: the operator has not caught up)' : '')],
    ['Created', absoluteAndRelative(obj.metadata.creationTimestamp, now) ?? '<unknown>'],
    ['Expiration', expirationText(obj, now)],
    ['Rotation', rotationText(obj)],
    ...(rotateRequest
      ? [
          [
            'Rotation requested',
            `${rotateRequest}${status.lastRotationRequest === rotateRequest ? ' (done)' : ' (pending)'}`,
          ] as [string, string],
        ]
      : []),
    ['Rate limit', limits.rateLimit],
    ['Budget', limits.budget],
    ['Revoked', revokedText(obj)],
    ['Secret', `${secret.name} (data key ${secret.key}); the key value is only in that Secret`],
    ['Current key', currentKeyCell(obj)],
    ['Last used', relativeTime(status.lastUsedAt, now) ?? 'never'],
    ['Usage', `${status.usage?.requests ?? 0} requests, ${status.usage?.credits ?? 0} credits (lifetime)`],
  ];
  const scopes: [string, string][] = [
    ['Models', listOr(spec.allowedModels, `(everything team ${team} allows)`)],
    ['Endpoints', listOr(spec.allowedEndpoints, `(everything team ${team} allows)`)],
    ['Source IPs', listOr(sourceIpEntries(spec), `(any source team ${team} allows)`)],
  ];
  const refusals = scopeRefusals(obj);
  const notes = attention(obj);
  return [
    fields(head),
    `Scopes (requested):\n${indent(fields(scopes))}`,
    ...(refusals.length > 0
      ? [
          'Scopes refused (the key gets only what team ' +
            team +
            ' grants):\n' +
            indent(refusals.map((c) => `${c.type}/${c.reason}: ${c.message}`).join('\n')),
        ]
      : []),
    ...(notes.length > 0
      ? [
          'Attention:\n' +
            indent(
              notes
                .map(
                  (c) =>
                    `${c.kind === 'blocked' ? 'Blocked' : c.kind === 'note' ? 'Note' : 'Unknown reason'} ` +
                    `${c.type}/${c.reason}: ${c.message}`,
                )
                .join('\n'),
            ),
        ]
      : []),
    `Keys (lineage, oldest first):\n${indent(lineageTable(obj, now))}`,
    `Conditions:\n${indent(conditionsTable(obj, now))}`,
  ].join('\n');
}
