// The admission half of the audit trail (docs/design.md §8). kube-apiserver calls this validating
// webhook with the object before and after each change; we always allow, and return audit annotations
// — the action, the changed field paths (never values), the key id — which kube-apiserver copies into
// that request's audit event. So every audit event says exactly what its own request changed, even when
// several changes reach us in one batch. failurePolicy Ignore: a down operator never blocks a change
// (its audit event then lacks the annotations and the recorder compares snapshots instead).
import { z } from 'zod';
import { GROUP, KINDS } from '../../api/constants.ts';
import { classify, snapshotHash, snapshotOf, type Classified } from './changes.ts';
import type { AuditedVerb } from './event.ts';
import type { ObjectMeta } from './types.ts';

/** The webhook's name; kube-apiserver prefixes each audit annotation key with it. */
export const ADMISSION_WEBHOOK_NAME = `audit.${GROUP}`;
export const ADMISSION_PATH = '/admission';
export const ANNOTATION_KEYS = {
  action: 'action',
  fields: 'changed-fields',
  keyId: 'key-id',
  before: 'before',
  after: 'after',
} as const;

const review = z.object({
  apiVersion: z.string(),
  kind: z.literal('AdmissionReview'),
  request: z.object({
    uid: z.string(),
    operation: z.string(),
    object: z.unknown().optional(),
    oldObject: z.unknown().optional(),
  }),
});

const VERB: Record<string, AuditedVerb> = { CREATE: 'create', UPDATE: 'patch', DELETE: 'delete' };

/** Pure: the AdmissionReview response for a request body (always allowed). */
export function reviewResponse(body: unknown): { status: number; body: object } {
  const parsed = review.safeParse(body);
  if (!parsed.success)
    return { status: 400, body: { error: `expected an admission.k8s.io/v1 AdmissionReview: ${parsed.error.message}` } };
  const req = parsed.data.request;
  const before = (req.oldObject ?? undefined) as ObjectMeta | undefined;
  const after = (req.object ?? undefined) as ObjectMeta | undefined;
  const [was, is] = [snapshotOf(before), snapshotOf(after)];
  const what = classify(VERB[req.operation] ?? 'patch', was, is);
  const keyId = what.revokedKeyId ?? before?.status?.currentKeyId;
  return {
    status: 200,
    body: {
      apiVersion: parsed.data.apiVersion,
      kind: 'AdmissionReview',
      response: {
        uid: req.uid,
        allowed: true,
        auditAnnotations: {
          ...annotationsOf(what, keyId),
          // Snapshot hashes: the trail notices a change it never heard of between two it did (no gap).
          [ANNOTATION_KEYS.before]: snapshotHash(was),
          [ANNOTATION_KEYS.after]: snapshotHash(is),
        },
      },
    },
  };
}

function annotationsOf(what: Classified, keyId: string | undefined): Record<string, string> {
  return {
    [ANNOTATION_KEYS.action]: what.action,
    [ANNOTATION_KEYS.fields]: what.fields.join(','),
    ...(keyId ? { [ANNOTATION_KEYS.keyId]: keyId } : {}),
  };
}

/** What an audit event's annotations say about its request (written by this webhook), if anything. */
export function classifiedFromAnnotations(
  annotations: Record<string, string> | undefined,
): (Classified & { keyId?: string; before?: string; after?: string }) | undefined {
  const get = (k: string) => annotations?.[`${ADMISSION_WEBHOOK_NAME}/${k}`];
  const action = classifyAction(get(ANNOTATION_KEYS.action));
  if (!action) return undefined;
  const fields = get(ANNOTATION_KEYS.fields);
  const keyId = get(ANNOTATION_KEYS.keyId);
  const before = get(ANNOTATION_KEYS.before);
  const after = get(ANNOTATION_KEYS.after);
  return {
    action,
    fields: fields ? fields.split(',') : [],
    ...(keyId ? { keyId } : {}),
    ...(before ? { before } : {}),
    ...(after ? { after } : {}),
  };
}

const ACTIONS = new Set<string>(['create', 'edit', 'rotate', 'revoke', 'revoke-key-id', 'delete']);
const classifyAction = (a: string | undefined) => (a && ACTIONS.has(a) ? (a as Classified['action']) : undefined);

/** The ValidatingWebhookConfiguration (admissionregistration.k8s.io/v1) pointing at `url`. */
export function validatingWebhookConfiguration(url: string, caBundlePem: string, name = 'nemokeys-audit'): object {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name },
    webhooks: [
      {
        name: ADMISSION_WEBHOOK_NAME,
        clientConfig: { url, caBundle: Buffer.from(caBundlePem).toString('base64') },
        rules: [
          {
            apiGroups: [GROUP],
            apiVersions: ['*'],
            operations: ['CREATE', 'UPDATE', 'DELETE'],
            resources: [KINDS.apiKey.plural, KINDS.team.plural],
            scope: 'Namespaced',
          },
        ],
        // Never block a key operation on the operator: without it, the audit event has no annotations.
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        timeoutSeconds: 2,
        admissionReviewVersions: ['v1'],
        matchPolicy: 'Equivalent',
      },
    ],
  };
}
