// Builders for ApiKey objects in unit tests (shaped as the API server returns them).
import type { Condition, ConditionReason, ConditionType, KeyEntry } from '../../api/index.ts';
import type { PlanInputs } from '../../operator/apikey/types.ts';
import type { ApiKeyObject } from './model.ts';

export const NOW = new Date('2026-03-01T12:00:00Z');

/** An ISO timestamp `ms` milliseconds from NOW (negative: in the past). */
export const at = (ms: number): string => new Date(NOW.getTime() + ms).toISOString();
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** Only the types and reasons the operator writes (api/conditions.ts): tests cannot invent shapes it never emits. */
export function condition<T extends ConditionType>(
  type: T,
  status: Condition['status'],
  reason: ConditionReason<T>,
  message = '',
): Condition {
  return { type, status, reason, message, lastTransitionTime: at(-5 * MIN) };
}

export function entry(id: string, state: KeyEntry['state'], extra: Partial<KeyEntry> = {}): KeyEntry {
  return { id, hint: id.slice(-4).toUpperCase(), state, createdAt: at(-10 * DAY), ...extra };
}

export function apiKey(name: string, over: Partial<ApiKeyObject> = {}): ApiKeyObject {
  return {
    apiVersion: 'keys.nemorouter.io/v1alpha1',
    kind: 'ApiKey',
    ...over,
    metadata: {
      name,
      namespace: 'shop',
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: at(-30 * DAY),
      ...over.metadata,
    },
    spec: { team: 'checkout', ...over.spec },
  };
}

/** The ApiKey as the CLI reads it back after the operator's planner wrote its status (contract tests). */
export function servedApiKey(inp: PlanInputs): ApiKeyObject {
  const ak = inp.apiKey!;
  return {
    apiVersion: ak.apiVersion,
    kind: ak.kind,
    metadata: {
      name: ak.metadata!.name!,
      namespace: ak.metadata!.namespace!,
      generation: ak.metadata!.generation,
      resourceVersion: '1',
    },
    ...(ak.spec ? { spec: ak.spec } : {}),
    ...(ak.status ? { status: ak.status } : {}),
  };
}
