import type { KubeClient } from '../../kube/client.ts';
import { FIELD_MANAGER, GROUP, KINDS, VERSION } from '../../api/constants.ts';
import type { TeamStatus } from '../../api/team.ts';
import { isNotFound, patchCustomStatus } from '../../kube/apply.ts';
import { sameJson } from '../../api/record.ts';
import type { ApiKeyObject, TeamObject } from '../apikey/types.ts';
import type { Clock, ObjectCache, ReconcileResult, Reconciler } from '../runtime/types.ts';
import { splitKey } from '../runtime/types.ts';
import { planTeamStatus } from './plan.ts';

export type TeamStatusWriter = (team: TeamObject, status: TeamStatus) => Promise<void>;

export function kubeTeamStatusWriter(kube: KubeClient): TeamStatusWriter {
  return async (team, status) => {
    try {
      await patchCustomStatus(
        kube,
        {
          group: GROUP,
          version: VERSION,
          plural: KINDS.team.plural,
          namespace: team.metadata!.namespace!,
          name: team.metadata!.name!,
        },
        status,
        { fieldManager: FIELD_MANAGER, resourceVersion: team.metadata?.resourceVersion },
      );
    } catch (err) {
      if (!isNotFound(err)) throw err; // deleted meanwhile: nothing to report on
    }
  };
}

export function createTeamReconciler(deps: {
  teams: ObjectCache<TeamObject>;
  apiKeys: ObjectCache<ApiKeyObject>;
  write: TeamStatusWriter;
  clock: Clock;
}): Reconciler {
  return {
    name: 'team',
    async reconcile(key: string): Promise<ReconcileResult> {
      const { namespace, name } = splitKey(key);
      const team = deps.teams.get(namespace, name);
      if (!team) return {};
      const status = planTeamStatus(team, deps.apiKeys.list(namespace), deps.clock.now());
      if (!sameJson(team.status ?? {}, status)) await deps.write(team, status);
      return {};
    },
  };
}
