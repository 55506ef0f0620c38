import type { ApiKeySpec } from '../../api/apikey.ts';
import type { TeamSpec } from '../../api/team.ts';
import { intersectSources } from './source-intersection.ts';

// Effective scopes = key ∩ team (docs/design.md §2). A key can never exceed its team: whatever it asks for
// beyond the team is refused (and named, so the condition/Event can tell the user exactly what).
// Record semantics: models ["*"] = all, endpoints [] = all. An EMPTY intersection must therefore never
// be written as [] for endpoints (that would mean "all"): callers treat `empty` as a blocking error.

export interface EffectiveScopes {
  models: string[];
  endpoints: string[];
  ipAllowlist: string[];
  refusedModels: string[];
  refusedEndpoints: string[];
  /** The key's source blocks not wholly inside its Team's list (dropped or narrowed to the Team's). */
  narrowedSources: string[];
  /** Which dimension ended up with nothing allowed (the key must not be usable). */
  empty?: 'models' | 'endpoints' | 'sources';
}

/** The CIDRs read from ConfigMaps: the key's spec.ipAllowlistFrom, and its Team's (undefined: none). */
export interface SourceLists {
  key?: readonly string[];
  team?: readonly string[];
}

const ALL_MODELS = '*';

/** `/v1/chat/completions` and `/chat/completions/` name the same endpoint as `/chat/completions`. */
export function normalizeEndpoint(path: string): string {
  let p = path.startsWith('/v1/') ? path.slice(3) : path === '/v1' ? '/' : path;
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

function intersectModels(team: readonly string[], key: readonly string[]): { allowed: string[]; refused: string[] } {
  const teamAll = team.includes(ALL_MODELS);
  if (key.length === 0 || key.includes(ALL_MODELS)) {
    // "everything the team can use"; a key "*" under a restricted team is not a refusal worth naming.
    return { allowed: teamAll ? [ALL_MODELS] : unique(team), refused: [] };
  }
  if (teamAll) return { allowed: unique(key), refused: [] };
  const teamSet = new Set(team);
  return { allowed: unique(key.filter((m) => teamSet.has(m))), refused: unique(key.filter((m) => !teamSet.has(m))) };
}

function intersectEndpoints(team: readonly string[], key: readonly string[]): { allowed: string[]; refused: string[] } {
  const teamN = unique(team.map(normalizeEndpoint));
  const keyN = unique(key.map(normalizeEndpoint));
  if (keyN.length === 0) return { allowed: teamN, refused: [] };
  if (teamN.length === 0) return { allowed: keyN, refused: [] };
  const teamSet = new Set(teamN);
  return { allowed: keyN.filter((e) => teamSet.has(e)), refused: keyN.filter((e) => !teamSet.has(e)) };
}

/**
 * The key's sources are spec.ipAllowlist plus its own lists; a Team list confines them (docs/design.md §2):
 * no key list = the Team's list, else the addresses both allow. Nothing left is `empty: 'sources'`, never
 * [] (that would read as "any source" in the record).
 */
function confineSources(key: string[], team: readonly string[] | undefined): { allowed: string[]; narrowed: string[] } {
  if (team === undefined) return { allowed: key, narrowed: [] };
  if (key.length === 0) return { allowed: unique(team), narrowed: [] };
  return intersectSources(key, team);
}

export function effectiveScopes(
  key: Pick<ApiKeySpec, 'allowedModels' | 'allowedEndpoints' | 'ipAllowlist'>,
  team: Pick<TeamSpec, 'allowedModels' | 'allowedEndpoints'>,
  lists: SourceLists = {},
): EffectiveScopes {
  const models = intersectModels(team.allowedModels, key.allowedModels ?? []);
  const endpoints = intersectEndpoints(team.allowedEndpoints ?? [], key.allowedEndpoints ?? []);
  const sources = confineSources(unique([...(key.ipAllowlist ?? []), ...(lists.key ?? [])]), lists.team);
  const scopes: EffectiveScopes = {
    models: models.allowed,
    endpoints: endpoints.allowed,
    ipAllowlist: sources.allowed,
    refusedModels: models.refused,
    refusedEndpoints: endpoints.refused,
    narrowedSources: sources.narrowed,
  };
  if (models.allowed.length === 0) scopes.empty = 'models';
  // Non-empty request, nothing left: [] would read as "all endpoints" in the record.
  else if (endpoints.allowed.length === 0 && endpoints.refused.length > 0) scopes.empty = 'endpoints';
  // A Team list with nothing left (disjoint, or the Team's list is empty): [] would read as "any source".
  else if (lists.team !== undefined && sources.allowed.length === 0) scopes.empty = 'sources';
  return scopes;
}
