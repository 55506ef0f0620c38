import { parseTeamSpec } from '../../api/spec.ts';
import type { TeamSpec, TeamStatus } from '../../api/team.ts';
import { mergeConditions } from '../apikey/conditions.ts';
import type { ApiKeyObject, TeamObject } from '../apikey/types.ts';

// Team status: observedGeneration, how many ApiKeys use the team, and a Ready condition. Pure.
// (Re-rendering the records of the team's keys is the ApiKey controller's job: Team changes enqueue them.)

export function teamKeys(team: TeamObject, apiKeys: readonly ApiKeyObject[]): ApiKeyObject[] {
  const name = team.metadata?.name;
  return apiKeys.filter((k) => k.spec?.team === name && !k.metadata?.deletionTimestamp);
}

/** What the Team allows, in one line. Whether its source lists read well is each key's Ready condition. */
function allowsMessage(spec: TeamSpec): string {
  let message = `allows models ${spec.allowedModels.join(', ')}`;
  if (spec.allowedEndpoints?.length) message += ` on ${spec.allowedEndpoints.join(', ')}`;
  const lists = (spec.ipAllowlistFrom ?? []).map((r) => `configmap ${r.configMapKeyRef.name}/${r.configMapKeyRef.key}`);
  if (lists.length) message += ` from the source addresses in ${lists.join(', ')}`;
  if (spec.maxExpiration) message += `; keys live at most ${spec.maxExpiration}`;
  return message;
}

export function planTeamStatus(team: TeamObject, apiKeys: readonly ApiKeyObject[], now: Date): TeamStatus {
  const parsed = parseTeamSpec(team);
  const keys = teamKeys(team, apiKeys).length;
  const ready = parsed.ok
    ? {
        type: 'Ready',
        status: 'True' as const,
        reason: 'Valid',
        message: allowsMessage(parsed.spec),
      }
    : { type: 'Ready', status: 'False' as const, reason: 'InvalidSpec', message: parsed.error };
  const generation = team.metadata?.generation;
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: mergeConditions(team.status?.conditions, [ready], generation, now),
    keys,
  };
}
