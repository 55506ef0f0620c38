// What the user may do, asked of the API server (SelfSubjectAccessReview) with the user's own
// identity, so the page shows an action disabled — naming the permission it needs — instead of
// failing after a click (docs/design.md §11).
import { AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, KINDS } from '../api/constants.ts';

export const ACTIONS = ['list', 'watch', 'create', 'edit', 'reveal', 'history'] as const;
export type Action = (typeof ACTIONS)[number];

interface Permission {
  verb: string;
  group: string;
  resource: string;
}

/** The Kubernetes permission behind each page action. edit covers duplicate's source read, rotate and revoke. */
export const PERMISSIONS: Record<Action, Permission> = {
  list: { verb: 'list', group: GROUP, resource: KINDS.apiKey.plural },
  watch: { verb: 'watch', group: GROUP, resource: KINDS.apiKey.plural },
  create: { verb: 'create', group: GROUP, resource: KINDS.apiKey.plural },
  edit: { verb: 'patch', group: GROUP, resource: KINDS.apiKey.plural },
  reveal: { verb: 'get', group: '', resource: 'secrets' },
  /** The audit trail: one ConfigMap per ApiKey (operator/audit/trail-store.ts). */
  history: { verb: 'get', group: '', resource: 'configmaps' },
};

export interface ActionAccess {
  allowed: boolean;
  /** e.g. `patch apikeys.keys.nemorouter.io in namespace checkout`, shown as the disabled action's hint. */
  needs: string;
}

export type AccessMap = Record<Action, ActionAccess>;

export function permissionText(p: Permission, namespace: string | undefined): string {
  const resource = p.group ? `${p.resource}.${p.group}` : p.resource;
  return `${p.verb} ${resource} ${namespace ? `in namespace ${namespace}` : 'in all namespaces'}`;
}

export type AccessReviewer = (namespace: string | undefined) => Promise<AccessMap>;

/** Asks once per namespace and caches for `ttlMs` (RBAC changes are rare; a reload after ttl sees them). */
export function accessReviewer(kc: KubeConfig, ttlMs = 30_000, now = Date.now): AccessReviewer {
  const api = kc.makeApiClient(AuthorizationV1Api);
  const cache = new Map<string, { at: number; value: Promise<AccessMap> }>();
  const review = async (namespace: string | undefined): Promise<AccessMap> => {
    const entries = await Promise.all(
      ACTIONS.map(async (action) => {
        const p = PERMISSIONS[action];
        const res = await api.createSelfSubjectAccessReview({
          body: {
            spec: {
              resourceAttributes: { verb: p.verb, group: p.group, resource: p.resource, namespace: namespace ?? '' },
            },
          },
        });
        return [action, { allowed: res.status?.allowed === true, needs: permissionText(p, namespace) }] as const;
      }),
    );
    return Object.fromEntries(entries) as AccessMap;
  };
  return (namespace) => {
    const key = namespace ?? '*';
    const hit = cache.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.value;
    const value = review(namespace);
    value.catch(() => cache.delete(key));
    cache.set(key, { at: now(), value });
    return value;
  };
}
