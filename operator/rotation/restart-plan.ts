import { RESTART_TARGET_KINDS } from '../../api/apikey.ts';
import { ANNOTATIONS } from '../../api/constants.ts';
import { parseApiKeySpec } from '../../api/spec.ts';
import type { ApiKeyObject } from '../apikey/types.ts';
import type { RestartTargetKind, TargetRef, WorkloadState } from './workloads.ts';

// rotation.restartTargets, decided purely. A target's pod template carries ONE annotation,
// ANNOTATIONS.restartedFor, whose value is the sorted, comma-separated list of the key ids currently
// in the workload Secrets of ALL ApiKeys that name the target. Why a list and not the last key id:
//   - it is a function of the current state only (level-triggered): the same Secrets always give the
//     same value, so a target is patched exactly once per change and never in a loop, however often
//     it is reconciled, and an operator restart does not roll anything;
//   - several ApiKeys rotating together (within the debounce window of the controller) change the
//     value once, so the workload rolls once and its new pods get every new key;
//   - it stays readable: `kubectl get deploy -o yaml` tells which key ids the pods were started for.
// With one ApiKey the value is simply the new key id.

const KINDS = new Set<string>(RESTART_TARGET_KINDS);

/** The queue key of a target: `namespace/Kind/name` (a target is reconciled, not an ApiKey). */
export const targetKey = (t: TargetRef): string => `${t.namespace}/${t.kind}/${t.name}`;

export function parseTargetKey(key: string): TargetRef | undefined {
  const [namespace, kind, name, ...rest] = key.split('/');
  if (!namespace || !kind || !name || rest.length > 0 || !KINDS.has(kind)) return undefined;
  return { namespace, kind: kind as RestartTargetKind, name };
}

export const describeTarget = (t: Pick<TargetRef, 'kind' | 'name'>): string => `${t.kind}/${t.name}`;

/** The restart targets an ApiKey names (none while its spec does not parse: its Ready condition says why). */
export function restartTargetsOf(ak: ApiKeyObject): TargetRef[] {
  const parsed = parseApiKeySpec(ak);
  const namespace = ak.metadata?.namespace ?? '';
  return parsed.ok
    ? (parsed.spec.rotation?.restartTargets ?? []).map((t) => ({ namespace, kind: t.kind, name: t.name }))
    : [];
}

export const targets = (ak: ApiKeyObject, t: TargetRef): boolean =>
  !ak.metadata?.deletionTimestamp && restartTargetsOf(ak).some((r) => r.kind === t.kind && r.name === t.name);

/** The annotation value for these key ids (undefined: no key id yet, nothing to roll for). */
export function restartValue(keyIds: readonly (string | undefined)[]): string | undefined {
  const ids = [...new Set(keyIds.filter((k): k is string => !!k))].sort();
  return ids.length > 0 ? ids.join(',') : undefined;
}

export type RestartDecision =
  | { action: 'none'; why: 'no-key-yet' | 'up-to-date' }
  | { action: 'patch'; value: string; previous: string | undefined }
  | { action: 'missing'; value: string };

export function decideRestart(keyIds: readonly (string | undefined)[], workload: WorkloadState): RestartDecision {
  const value = restartValue(keyIds);
  if (value === undefined) return { action: 'none', why: 'no-key-yet' };
  if (!workload.exists) return { action: 'missing', value };
  if (workload.annotation === value) return { action: 'none', why: 'up-to-date' };
  return { action: 'patch', value, previous: workload.annotation };
}

export function restartMessage(t: TargetRef, value: string, previous: string | undefined): string {
  return (
    `${describeTarget(t)} rolled: pod template annotation ${ANNOTATIONS.restartedFor}=${value}` +
    (previous ? ` (was ${previous})` : '') +
    ' because the key in its Secret changed'
  );
}

export function missingMessage(t: TargetRef): string {
  return (
    `restart target ${describeTarget(t)} not found in namespace ${t.namespace}: create it or fix spec.rotation.restartTargets ` +
    '(the key is still rotated; that workload is just not rolled)'
  );
}
