import type { Condition } from '../../api/conditions.ts';
import { CONDITION_TYPES } from '../../api/conditions.ts';
import type { DesiredCondition } from '../apikey/conditions.ts';
import type { ApiKeyObject } from '../apikey/types.ts';
import { describeTarget, missingMessage, restartTargetsOf, targetKey } from './restart-plan.ts';
import type { TargetRef } from './workloads.ts';

// Whether each restart target exists, as last seen by the restart-target controller, and the ApiKey
// condition that reports it. The controller owns the knowledge (it is the one that GETs workloads);
// the ApiKey planner only renders it into status, so the ApiKey status keeps ONE writer.

export const RESTART_CONDITION = CONDITION_TYPES.restartTargets;

export class RestartTargetTracker {
  readonly #found = new Map<string, boolean>();

  /** Records what a reconcile saw; true when that changed anything the ApiKeys report. */
  set(t: TargetRef, found: boolean): boolean {
    const key = targetKey(t);
    const changed = this.#found.get(key) !== found;
    this.#found.set(key, found);
    return changed;
  }

  forget(t: TargetRef): void {
    this.#found.delete(targetKey(t));
  }

  /** `Kind/name` → found, for the ApiKey's targets; undefined while any of them was not checked yet. */
  stateFor(ak: ApiKeyObject): ReadonlyMap<string, boolean> | undefined {
    const out = new Map<string, boolean>();
    for (const t of restartTargetsOf(ak)) {
      const found = this.#found.get(targetKey(t));
      if (found === undefined) return undefined;
      out.set(describeTarget(t), found);
    }
    return out;
  }
}

/**
 * The RestartTargets condition: absent without targets; carried over unchanged while a target was not
 * checked yet (after an operator restart), so a restart never flips it back and forth.
 */
export function restartTargetsCondition(
  targets: readonly TargetRef[],
  found: ReadonlyMap<string, boolean> | undefined,
  previous: Condition | undefined,
): DesiredCondition | undefined {
  if (targets.length === 0) return undefined;
  if (found === undefined) {
    const reason = previous?.reason;
    return reason === 'TargetNotFound' || reason === 'TargetsFound'
      ? { type: RESTART_CONDITION, status: previous!.status, reason, message: previous!.message }
      : undefined;
  }
  const missing = targets.filter((t) => found.get(describeTarget(t)) !== true);
  if (missing.length > 0) {
    return {
      type: RESTART_CONDITION,
      status: 'False',
      reason: 'TargetNotFound',
      message: missing.map(missingMessage).join('; '),
    };
  }
  return {
    type: RESTART_CONDITION,
    status: 'True',
    reason: 'TargetsFound',
    message: `${targets.map(describeTarget).join(', ')} roll when the key in the workload Secret changes`,
  };
}
