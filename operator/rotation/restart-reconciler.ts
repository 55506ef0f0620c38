import type { V1Secret } from '@kubernetes/client-node';
import { apiKeyDefaults } from '../../api/spec.ts';
import { eventName, shortHash } from '../apikey/events.ts';
import type { ApiKeyObject, PlannedEvent } from '../apikey/types.ts';
import { inspectWorkloadSecret } from '../apikey/workload-secret.ts';
import type { ApiKeyWriter } from '../apikey/writer.ts';
import type { Clock, ObjectCache, ReconcileResult, Reconciler } from '../runtime/types.ts';
import { objectKey } from '../runtime/types.ts';
import { decideRestart, missingMessage, parseTargetKey, restartMessage, targets } from './restart-plan.ts';
import type { RestartTargetTracker } from './restart-status.ts';
import type { TargetRef, WorkloadClient } from './workloads.ts';

// The restart-target controller: one reconcile per workload (`namespace/Kind/name`), so several
// ApiKeys sharing a target are handled together. Handlers enqueue a target with a delay (the debounce
// window, see controllers.ts); the work queue keeps the earliest deadline, so every key change inside
// the window ends up in one patch. A missing target is not an error: an Event on each ApiKey naming
// it, a condition (via the tracker), and a slow recheck — never a hot retry loop.

export interface RestartReconcilerDeps {
  apiKeys: ObjectCache<ApiKeyObject>;
  /** Workload Secrets (the key id a target's pods should run with is the one in the Secret). */
  secrets: ObjectCache<V1Secret>;
  workloads: WorkloadClient;
  events: Pick<ApiKeyWriter, 'createEvent'>;
  tracker: RestartTargetTracker;
  /** Called with `namespace/name` of ApiKeys whose RestartTargets condition must be re-rendered. */
  onTargetStateChange: (apiKey: string) => void;
  clock: Clock;
  /** How often a missing target is looked for again (it may be created later). */
  recheckMissingMs?: number;
}

export const RECHECK_MISSING_MS = 5 * 60_000;

/** The key id in an ApiKey's workload Secret, when it holds a valid key (never the plaintext). */
export function secretKeyId(ak: ApiKeyObject, secrets: ObjectCache<V1Secret>): string | undefined {
  const name = ak.metadata?.name ?? '';
  const where = apiKeyDefaults(name, ak.spec).secret;
  return inspectWorkloadSecret(secrets.get(ak.metadata?.namespace, where.name), where.key, name).valid?.keyId;
}

function targetEvent(
  ak: ApiKeyObject,
  t: TargetRef,
  type: PlannedEvent['type'],
  reason: string,
  value: string,
  message: string,
): PlannedEvent {
  // Named after target and value: one Event per change of the value, whatever the number of reconciles.
  return {
    type,
    reason,
    message,
    name: eventName(ak.metadata?.name ?? '', 'restart', t.kind, t.name, shortHash(value)),
  };
}

export function createRestartReconciler(deps: RestartReconcilerDeps): Reconciler & { readonly lastPatches: number } {
  let lastPatches = 0;
  /** Target → value its RestartTargetNotFound Events were sent for: the slow recheck writes nothing new. */
  const missingReported = new Map<string, string>();
  const reconcile = async (key: string): Promise<ReconcileResult> => {
    lastPatches = 0;
    const target = parseTargetKey(key);
    if (!target) return {};
    const owners = deps.apiKeys
      .list(target.namespace)
      .filter((ak) => targets(ak, target))
      .sort((a, b) => objectKey(a).localeCompare(objectKey(b)));
    if (owners.length === 0) {
      deps.tracker.forget(target);
      missingReported.delete(key);
      return {};
    }
    const decision = decideRestart(
      owners.map((ak) => secretKeyId(ak, deps.secrets)),
      await deps.workloads.read(target),
    );
    const found = decision.action !== 'missing';
    if (deps.tracker.set(target, found)) for (const ak of owners) deps.onTargetStateChange(objectKey(ak));
    const now = deps.clock.now();
    if (decision.action === 'missing') {
      if (missingReported.get(key) !== decision.value) {
        for (const ak of owners)
          await deps.events.createEvent(
            ak,
            targetEvent(
              ak,
              target,
              'Warning',
              'RestartTargetNotFound',
              `missing:${decision.value}`,
              missingMessage(target),
            ),
            now,
          );
        missingReported.set(key, decision.value);
      }
      return { requeueAfterMs: deps.recheckMissingMs ?? RECHECK_MISSING_MS };
    }
    missingReported.delete(key);
    if (decision.action === 'none') return {};
    await deps.workloads.setAnnotation(target, decision.value);
    lastPatches = 1;
    const message = restartMessage(target, decision.value, decision.previous);
    for (const ak of owners)
      await deps.events.createEvent(
        ak,
        targetEvent(ak, target, 'Normal', 'RestartTriggered', decision.value, message),
        now,
      );
    return {};
  };
  return {
    name: 'restart-targets',
    reconcile,
    get lastPatches() {
      return lastPatches;
    },
  };
}
