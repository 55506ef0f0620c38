import type { ApiKeySpec } from '../../api/apikey.ts';
import type { TeamSpec } from '../../api/team.ts';
import { firstDecision, type Policy } from './policies.ts';
import type { Blocker } from './readiness.ts';
import type { EffectiveScopes } from './scopes.ts';
import type { ResolvedAllowlist } from './types.ts';
import type { SecretInspection } from './workload-secret.ts';

// What stops a key from being usable or issued (docs/design.md §5, "blockers"). At most one Team blocker
// — the first that applies: a missing Team hides an invalid one, and so on down the chain — and,
// independently, a workload Secret we may not overwrite.

export interface BlockerInputs {
  namespace: string;
  spec: ApiKeySpec;
  teamExists: boolean;
  /** Undefined when the Team is missing or its spec is invalid. */
  teamSpec: TeamSpec | undefined;
  scopes: EffectiveScopes | undefined;
  inspection: SecretInspection;
  secretName: string;
  /** spec.ipAllowlistFrom as read; undefined when not read. */
  allowlistFrom: ResolvedAllowlist | undefined;
  /** The Team's spec.ipAllowlistFrom as read; undefined when not read. */
  teamAllowlistFrom: ResolvedAllowlist | undefined;
}

const teamNotFound: Policy<BlockerInputs, Blocker> = ({ teamExists, spec, namespace }) =>
  teamExists
    ? undefined
    : {
        reason: 'TeamNotFound',
        suspends: true,
        message: `Team "${spec.team}" not found in namespace ${namespace}: create it or fix spec.team`,
      };

const teamInvalid: Policy<BlockerInputs, Blocker> = ({ teamSpec, spec }) =>
  teamSpec
    ? undefined
    : {
        reason: 'TeamInvalid',
        suspends: true,
        message: `Team "${spec.team}" has an invalid spec; fix the Team`,
      };

const noAllowedModels: Policy<BlockerInputs, Blocker> = ({ scopes, spec, teamSpec }) =>
  scopes?.empty !== 'models'
    ? undefined
    : {
        reason: 'NoAllowedModels',
        suspends: true,
        message:
          `none of the requested models (${scopes.refusedModels.join(', ')}) is allowed by Team "${spec.team}" ` +
          `(allows ${(teamSpec?.allowedModels ?? []).join(', ')}): change spec.allowedModels or the Team`,
      };

const noAllowedEndpoints: Policy<BlockerInputs, Blocker> = ({ scopes, spec, teamSpec }) =>
  scopes?.empty !== 'endpoints'
    ? undefined
    : {
        reason: 'NoAllowedEndpoints',
        suspends: true,
        message:
          `none of the requested endpoints (${scopes.refusedEndpoints.join(', ')}) is allowed by Team ` +
          `"${spec.team}" (allows ${(teamSpec?.allowedEndpoints ?? []).join(', ')}): ` +
          'change spec.allowedEndpoints or the Team',
      };

const noAllowedSources: Policy<BlockerInputs, Blocker> = ({ scopes, spec }) =>
  scopes?.empty !== 'sources'
    ? undefined
    : {
        reason: 'NoAllowedSources',
        suspends: true,
        message:
          `none of the key's source addresses (${listSome(scopes.narrowedSources)}) is inside the ipAllowlistFrom ` +
          `lists of Team "${spec.team}": change spec.ipAllowlist / spec.ipAllowlistFrom or the Team's lists`,
      };

/** At most a few entries of a list that may hold thousands (a condition message is at most 2 KiB). */
export function listSome(xs: readonly string[], max = 5): string {
  return xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')} and ${xs.length - max} more`;
}

/**
 * An ipAllowlistFrom list that cannot be read, or reads as nothing, suspends the key (docs/design.md §2):
 * the record's empty ipAllowlist means "any source", so an unreadable list must never render as one.
 * `owner` says whose spec names it: the ApiKey's, or its Team's.
 */
function unresolved(owner: string, list: ResolvedAllowlist | undefined, requested: number): Blocker | undefined {
  const fix = `the key is suspended until ${owner}spec.ipAllowlistFrom can be read`;
  const because = (message: string): Blocker => ({ reason: 'IpAllowlistUnresolved', suspends: true, message });
  if (!list) return because(`${owner}spec.ipAllowlistFrom has not been read yet; ${fix}`);
  if (!list.ok) return because(`${owner}spec.ipAllowlistFrom: ${list.error}; ${fix}`);
  if (requested + list.cidrs.length === 0) {
    return because(`${owner}spec.ipAllowlistFrom lists no address (an empty allowlist would allow any source); ${fix}`);
  }
  return undefined;
}

const allowlistUnresolved: Policy<BlockerInputs, Blocker> = ({ spec, allowlistFrom }) =>
  spec.ipAllowlistFrom?.length ? unresolved('', allowlistFrom, spec.ipAllowlist?.length ?? 0) : undefined;

/** A Team list confines every key of the team: not readable, its keys are suspended like a key's own. */
const teamAllowlistUnresolved: Policy<BlockerInputs, Blocker> = ({ spec, teamSpec, teamAllowlistFrom }) =>
  teamSpec?.ipAllowlistFrom?.length ? unresolved(`Team "${spec.team}" `, teamAllowlistFrom, 0) : undefined;

/** The Team policies, in precedence order. */
export const TEAM_BLOCKERS: readonly Policy<BlockerInputs, Blocker>[] = [
  teamNotFound,
  teamInvalid,
  teamAllowlistUnresolved,
  noAllowedModels,
  noAllowedEndpoints,
  noAllowedSources,
];

const secretConflict: Policy<BlockerInputs, Blocker> = ({ inspection, namespace, secretName }) =>
  !inspection.exists || inspection.ours
    ? undefined
    : {
        reason: 'SecretConflict',
        suspends: false,
        message:
          `Secret ${namespace}/${secretName} exists and is not managed by nemokeys: ` +
          'delete it or set spec.secret.name to another name',
      };

export function blockersOf(input: BlockerInputs): Blocker[] {
  return [firstDecision(TEAM_BLOCKERS, input), allowlistUnresolved(input), secretConflict(input)].filter(
    (b) => b !== undefined,
  );
}
