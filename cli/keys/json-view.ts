// `-o json`: a stable document of what the table and describe show. Built field by field from an
// allowlist (never by spreading the object), so nothing the server adds can leak into it.
import type { ApiKeyObject } from './model.ts';
import { byName, workloadSecret } from './model.ts';
import { keyState } from './state.ts';

export function keyDocument(obj: ApiKeyObject) {
  const spec = obj.spec ?? {};
  const status = obj.status ?? {};
  return {
    namespace: obj.metadata.namespace ?? null,
    name: obj.metadata.name,
    team: spec.team ?? null,
    environment: spec.environment ?? null,
    state: keyState(obj),
    scopes: {
      allowedModels: spec.allowedModels ?? [],
      allowedEndpoints: spec.allowedEndpoints ?? [],
      ipAllowlist: spec.ipAllowlist ?? [],
    },
    expiration: spec.expiration ?? 'Never',
    expiresAt: status.expiresAt ?? null,
    rotation: spec.rotation ?? null,
    rateLimit: spec.rateLimit ?? null,
    budget: spec.budget ?? null,
    revoked: spec.revoked ?? false,
    revokedKeyIds: spec.revokedKeyIds ?? [],
    secret: workloadSecret(obj),
    currentKeyId: status.currentKeyId ?? null,
    lastUsedAt: status.lastUsedAt ?? null,
    usage: { requests: status.usage?.requests ?? 0, credits: status.usage?.credits ?? 0 },
    keys: (status.keys ?? []).map((k) => ({
      id: k.id,
      hint: k.hint,
      state: k.state,
      createdAt: k.createdAt,
      expiresAt: k.expiresAt ?? null,
      lastUsedAt: k.lastUsedAt ?? null,
      requests: k.requests ?? 0,
      credits: k.credits ?? 0,
      supersededAt: k.supersededAt ?? null,
      revokedAt: k.revokedAt ?? null,
      revokedReason: k.revokedReason ?? null,
    })),
    conditions: (status.conditions ?? []).map((c) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      lastTransitionTime: c.lastTransitionTime,
    })),
    observedGeneration: status.observedGeneration ?? null,
    generation: obj.metadata.generation ?? null,
  };
}

export type KeyDocument = ReturnType<typeof keyDocument>;

export const renderJsonList = (objs: readonly ApiKeyObject[]): string =>
  `${JSON.stringify({ items: [...objs].sort(byName).map(keyDocument) }, null, 2)}\n`;

export const renderJsonOne = (obj: ApiKeyObject): string => `${JSON.stringify(keyDocument(obj), null, 2)}\n`;
