import { TeamSpecSchema, type TeamStatus } from '../../api/team.ts';
import { mergeConditions } from '../apikey/conditions.ts';
import type { ApiKeyObject, TeamObject } from '../apikey/types.ts';

// Team status: observedGeneration, how many ApiKeys use the team, and a Ready condition. Pure.
// (Re-rendering the records of the team's keys is the ApiKey controller's job: Team changes enqueue them.)

export function teamKeys(team: TeamObject, apiKeys: readonly ApiKeyObject[]): ApiKeyObject[] {
  const name = team.metadata?.name;
  return apiKeys.filter((k) => k.spec?.team === name && !k.metadata?.deletionTimestamp);
}

export function planTeamStatus(team: TeamObject, apiKeys: readonly ApiKeyObject[], now: Date): TeamStatus {
  const parsed = TeamSpecSchema.safeParse(team.spec);
  const keys = teamKeys(team, apiKeys).length;
  const ready = parsed.success
    ? { type: 'Ready', status: 'True' as const, reason: 'Valid', message: `allows models ${parsed.data.allowedModels.join(', ')}${parsed.data.allowedEndpoints?.length ? ` on ${parsed.data.allowedEndpoints.join(', ')}` : ''}${parsed.data.maxExpiration ? `; keys live at most ${parsed.data.maxExpiration}` : ''}` }
    : { type: 'Ready', status: 'False' as const, reason: 'InvalidSpec', message: `spec is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  const generation = team.metadata?.generation;
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: mergeConditions(team.status?.conditions, [ready], generation, now),
    keys,
  };
}
