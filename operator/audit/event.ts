// Kubernetes audit events (audit.k8s.io/v1, Metadata level) → the changes nemokeys records: who
// (user, groups, impersonation), from where (source IP) and when (the API server's receive time).
// docs/design.md §8. Only the fields we read are declared; everything else passes through unread.
import { z } from 'zod';
import { GROUP, KINDS } from '../../api/constants.ts';

const userInfo = z.object({
  username: z.string().max(1024).optional(),
  groups: z.array(z.string().max(1024)).max(256).optional(),
});

const auditEvent = z.object({
  auditID: z.string().min(1).max(128),
  stage: z.string(),
  verb: z.string(),
  user: userInfo,
  impersonatedUser: userInfo.optional(),
  sourceIPs: z.array(z.string().max(64)).max(32).optional(),
  objectRef: z
    .object({
      apiGroup: z.string().optional(),
      resource: z.string().optional(),
      subresource: z.string().optional(),
      namespace: z.string().optional(),
      name: z.string().optional(),
      uid: z.string().optional(),
    })
    .optional(),
  responseStatus: z.object({ code: z.number().int().optional() }).optional(),
  requestReceivedTimestamp: z.string(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const auditEventList = z.object({
  kind: z.literal('EventList'),
  items: z.array(z.unknown()).max(100_000),
});

export type AuditEvent = z.infer<typeof auditEvent>;

export type AuditedKind = 'ApiKey' | 'Team';
export type AuditedVerb = 'create' | 'update' | 'patch' | 'delete';

export interface Actor {
  /** The user the change is attributed to: the impersonated user when there was impersonation. */
  username: string;
  groups: string[];
  /** Who impersonated `username`, when someone did. */
  impersonatedBy?: string;
}

/** One successful change to a Team or ApiKey, as the API server saw it. */
export interface AuditedChange {
  auditId: string;
  kind: AuditedKind;
  namespace: string;
  name: string;
  uid?: string;
  verb: AuditedVerb;
  actor: Actor;
  /** The client's address as the API server saw it (first of sourceIPs). */
  sourceIp?: string;
  /** requestReceivedTimestamp: when the API server received the request (RFC 3339, µs). */
  time: string;
  /** Audit annotations (the admission webhook's: action, changed fields, key id). */
  annotations?: Record<string, string>;
}

const KIND_OF_RESOURCE: Record<string, AuditedKind> = { [KINDS.apiKey.plural]: 'ApiKey', [KINDS.team.plural]: 'Team' };
const VERBS = new Set<string>(['create', 'update', 'patch', 'delete']);

/**
 * Pure: the changes among `items` (raw EventList items). Skipped: other resources, subresources
 * (status is the operator's), earlier stages, failed requests (a 409 changed nothing), and events that
 * do not parse (counted by the caller through `skipped`).
 */
export function changesOf(items: unknown[]): { changes: AuditedChange[]; invalid: number } {
  const changes: AuditedChange[] = [];
  let invalid = 0;
  for (const item of items) {
    const parsed = auditEvent.safeParse(item);
    if (!parsed.success) {
      invalid++;
      continue;
    }
    const change = changeOf(parsed.data);
    if (change) changes.push(change);
  }
  return { changes, invalid };
}

export function changeOf(e: AuditEvent): AuditedChange | undefined {
  const ref = e.objectRef;
  const kind = ref?.resource ? KIND_OF_RESOURCE[ref.resource] : undefined;
  if (!ref || !kind || ref.apiGroup !== GROUP || ref.subresource) return undefined;
  if (e.stage !== 'ResponseComplete' || !VERBS.has(e.verb) || !ref.namespace || !ref.name) return undefined;
  const code = e.responseStatus?.code ?? 0;
  if (code < 200 || code >= 300) return undefined;
  const impersonated = e.impersonatedUser?.username;
  const actor: Actor = impersonated
    ? { username: impersonated, groups: e.impersonatedUser?.groups ?? [], impersonatedBy: e.user.username ?? 'unknown' }
    : { username: e.user.username ?? 'unknown', groups: e.user.groups ?? [] };
  return {
    auditId: e.auditID,
    kind,
    namespace: ref.namespace,
    name: ref.name,
    ...(ref.uid ? { uid: ref.uid } : {}),
    verb: e.verb as AuditedVerb,
    actor,
    ...(e.sourceIPs?.[0] ? { sourceIp: e.sourceIPs[0] } : {}),
    time: e.requestReceivedTimestamp,
    ...(e.annotations ? { annotations: e.annotations } : {}),
  };
}
