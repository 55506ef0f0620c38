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

/** Where the Team's source lists come from (whether they read well is each key's Ready condition). */
function sourcesNote(spec: TeamSpec): string {
  const refs = spec.ipAllowlistFrom ?? [];
  if (refs.length === 0) return '';
  const names = refs.map((r) => `configmap ${r.configMapKeyRef.name}/${r.configMapKeyRef.key}`).join(', ');
  return ` from the source addresses in ${names}`;
}

export function planTeamStatus(team: TeamObject, apiKeys: readonly ApiKeyObject[], now: Date): TeamStatus {
  const parsed = parseTeamSpec(team);
  const keys = teamKeys(team, apiKeys).length;
  const ready = parsed.ok
    ? {
        type: 'Ready',
        status: 'True' as const,
        reason: 'Valid',
        message: `allows models ${parsed.spec.allowedModels.join(', ')}${parsed.spec.allowedEndpoints?.length ? ` on ${parsed.spec.allowedEndpoints.join(', ')}` : ''}${sourcesNote(parsed.spec)}${parsed.spec.maxExpiration ? `; keys live at most ${parsed.spec.maxExpiration}` : ''}`,
      }
    : { type: 'Ready', status: 'False' as const, reason: 'InvalidSpec', message: parsed.error };
  const generation = team.metadata?.generation;
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: mergeConditions(team.status?.conditions, [ready], generation, now),
    keys,
  };
}
