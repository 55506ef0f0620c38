import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';
import type { Condition, DesiredCondition } from '../../api/conditions.ts';

// metav1.Condition bookkeeping and "who changed the spec" (the audit actor for user-driven actions).

export type ConditionStatus = Condition['status'];
export type { DesiredCondition } from '../../api/conditions.ts';
/** Any planned condition (the ApiKey's typed ones, the Team's). */
type ConditionDraft = Pick<DesiredCondition, 'status' | 'message'> & { type: string; reason: string };

/** lastTransitionTime only moves when status changes (Kubernetes convention), so resyncs write nothing. */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  desired: readonly ConditionDraft[],
  generation: number | undefined,
  now: Date,
): Condition[] {
  return desired.map((d) => {
    const prev = previous?.find((p) => p.type === d.type);
    const c: Condition = {
      type: d.type,
      status: d.status,
      reason: d.reason,
      message: d.message.slice(0, 2048),
      lastTransitionTime: prev && prev.status === d.status ? prev.lastTransitionTime : now.toISOString(),
    };
    if (generation !== undefined) c.observedGeneration = generation;
    return c;
  });
}

/**
 * The field manager of the most recent write that touched `path` (e.g. ['f:spec'] or
 * ['f:metadata','f:annotations','f:keys.nemorouter.io/rotate']): kubectl, helm, argocd, ... .
 */
export function lastManagerOf(
  managedFields: readonly V1ManagedFieldsEntry[] | undefined,
  path: readonly string[],
  ignore: readonly string[] = [],
): string | undefined {
  let best: { manager: string; time: number } | undefined;
  for (const f of managedFields ?? []) {
    if (!f.manager || ignore.includes(f.manager) || f.subresource === 'status') continue;
    let node: unknown = f.fieldsV1;
    for (const p of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[p] : undefined;
    if (node === undefined) continue;
    const time = f.time ? new Date(f.time).getTime() : 0;
    if (!best || time >= best.time) best = { manager: f.manager, time };
  }
  return best?.manager;
}
