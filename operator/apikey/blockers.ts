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

/**
 * spec.ipAllowlistFrom that cannot be read, or reads as nothing, suspends the key (docs/design.md §2):
 * the record's empty ipAllowlist means "any source", so an unreadable list must never render as one.
 */
const allowlistUnresolved: Policy<BlockerInputs, Blocker> = ({ spec, allowlistFrom, scopes }) => {
  if (!spec.ipAllowlistFrom?.length) return undefined;
  const fix = 'the key is suspended until spec.ipAllowlistFrom can be read';
  const because = (message: string): Blocker => ({ reason: 'IpAllowlistUnresolved', suspends: true, message });
  if (!allowlistFrom) return because(`spec.ipAllowlistFrom has not been read yet; ${fix}`);
  if (!allowlistFrom.ok) return because(`spec.ipAllowlistFrom: ${allowlistFrom.error}; ${fix}`);
  if (scopes && scopes.ipAllowlist.length === 0) {
    return because(`spec.ipAllowlistFrom lists no address (an empty allowlist would allow any source); ${fix}`);
  }
  return undefined;
};

/** The Team policies, in precedence order. */
export const TEAM_BLOCKERS: readonly Policy<BlockerInputs, Blocker>[] = [
  teamNotFound,
  teamInvalid,
  noAllowedModels,
  noAllowedEndpoints,
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
