// Pure helpers of the keys page (no DOM): times, scopes, filtering and sorting. Typed by format.d.ts,
// unit-tested in ui/format.test.ts, exercised for real by test/ui-browser.test.ts.

/** "5m ago" / "in 3d"; undefined for a missing or unparsable timestamp (kubectl-style, like the CLI). */
export function relativeTime(iso, now) {
  if (!iso) return undefined;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return undefined;
  const diff = at - now;
  const s = Math.floor(Math.abs(diff) / 1000);
  const span =
    s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.floor(s / 60)}m`
        : s < 172800
          ? `${Math.floor(s / 3600)}h`
          : `${Math.floor(s / 86400)}d`;
  return diff > 0 ? `in ${span}` : `${span} ago`;
}

/** Models a key may call: restricted (its own list) or everything its team allows. */
export function modelScope(key) {
  const models = key.spec.allowedModels ?? [];
  return models.length > 0
    ? { restricted: true, text: models.join(', ') }
    : { restricted: false, text: 'all team models' };
}

export const listOrAll = (values, all) => (values && values.length > 0 ? values.join(', ') : all);

/** spec.ipAllowlist plus each spec.ipAllowlistFrom ConfigMap named (as cli/keys/source-ips.ts). */
export const sourceIps = (spec) => [
  ...(spec.ipAllowlist ?? []),
  ...(spec.ipAllowlistFrom ?? []).map((r) => `configmap ${r.configMapKeyRef.name}/${r.configMapKeyRef.key}`),
];

/** Expiry of the key (status.expiresAt once issued, else what the spec asks for). */
export function expiresText(key, now) {
  if (key.status.expiresAt) return relativeTime(key.status.expiresAt, now);
  const e = key.spec.expiration ?? 'Never';
  return e === 'Never' ? 'never' : e;
}

const text = (key) =>
  [key.name, key.namespace, key.spec.team, key.spec.environment ?? '', key.state].join(' ').toLowerCase();

/**
 * filter: { search, team, environment, state, scope ('restricted' | 'all' | ''), model, candidates (bool) }.
 * model matches keys that may call it: restricted keys listing it, and all-models keys.
 */
export function matches(key, filter) {
  if (filter.search && !text(key).includes(filter.search.toLowerCase())) return false;
  if (filter.team && key.spec.team !== filter.team) return false;
  if (filter.environment && (key.spec.environment ?? 'none') !== filter.environment) return false;
  if (filter.state && !key.state.startsWith(filter.state)) return false;
  const scope = modelScope(key);
  if (filter.scope === 'restricted' && !scope.restricted) return false;
  if (filter.scope === 'all' && scope.restricted) return false;
  if (filter.model && scope.restricted && !(key.spec.allowedModels ?? []).includes(filter.model)) return false;
  if (filter.candidates && !key.revokeCandidate) return false;
  return true;
}

const byName = (a, b) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0;
const time = (iso, missing) => {
  const t = Date.parse(iso ?? '');
  return Number.isNaN(t) ? missing : t;
};

/** by: name | expiry (soonest first, never last) | usage (most requests first) | lastUsed (most recent first, never last). */
export function sortKeys(keys, by) {
  const sorted = [...keys];
  const then = (f) => (a, b) => f(a, b) || byName(a, b);
  switch (by) {
    case 'expiry':
      return sorted.sort(then((a, b) => time(a.status.expiresAt, Infinity) - time(b.status.expiresAt, Infinity)));
    case 'usage':
      return sorted.sort(then((a, b) => (b.status.usage?.requests ?? 0) - (a.status.usage?.requests ?? 0)));
    case 'lastUsed':
      return sorted.sort(then((a, b) => time(b.status.lastUsedAt, -Infinity) - time(a.status.lastUsedAt, -Infinity)));
    default:
      return sorted.sort(byName);
  }
}

/** The expiration form control's value: one of the presets, or 'custom' with a datetime. */
export function expirationChoice(expiration) {
  const e = expiration || 'Never';
  if (['Never', '30d', '90d'].includes(e)) return { preset: e, custom: '' };
  if (/^\d+[smhd]$/.test(e)) return { preset: e, custom: '' };
  return { preset: 'custom', custom: e };
}

/** A datetime-local value (the user's local time) → RFC 3339 UTC for spec.expiration. */
export function customExpiration(local) {
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? local : t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
