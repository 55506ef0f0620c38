import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../api/constants.ts';
import { ADMISSION_WEBHOOK_NAME, classifiedFromAnnotations, reviewResponse } from './admission.ts';

const review = (operation: string, oldObject: unknown, object: unknown) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'u1', operation, oldObject, object },
});
const prefixed = (a: Record<string, string>) =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [`${ADMISSION_WEBHOOK_NAME}/${k}`, v]));

describe('admission webhook: always allows, annotates what the request changed', () => {
  it.each([
    [
      'edit',
      review(
        'UPDATE',
        { spec: { team: 't' }, status: { currentKeyId: 'K1' } },
        { spec: { team: 't', ipAllowlist: ['10.0.0.0/8'] } },
      ),
      { action: 'edit', 'changed-fields': 'spec.ipAllowlist', 'key-id': 'K1' },
    ],
    ['create', review('CREATE', null, { spec: { team: 't' } }), { action: 'create', 'changed-fields': 'spec.team' }],
    [
      'rotate',
      review(
        'UPDATE',
        { spec: {}, status: { currentKeyId: 'K1' } },
        { metadata: { annotations: { [ANNOTATIONS.rotate]: 'x' } }, spec: {} },
      ),
      { action: 'rotate', 'changed-fields': `metadata.annotations[${ANNOTATIONS.rotate}]`, 'key-id': 'K1' },
    ],
    [
      'revoke one key id',
      review('UPDATE', { spec: {}, status: { currentKeyId: 'K2' } }, { spec: { revokedKeyIds: ['K1'] } }),
      { action: 'revoke-key-id', 'changed-fields': 'spec.revokedKeyIds', 'key-id': 'K1' },
    ],
    ['delete', review('DELETE', { spec: {} }, null), { action: 'delete', 'changed-fields': '' }],
  ])('%s', (_n, body, annotations) => {
    const res = reviewResponse(body);
    expect(res).toEqual({
      status: 200,
      body: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid: 'u1',
          allowed: true,
          auditAnnotations: { ...annotations, before: expect.any(String), after: expect.any(String) },
        },
      },
    });
    // ... and the recorder reads back what kube-apiserver copies into the audit event
    const back = classifiedFromAnnotations(prefixed(annotations));
    expect(back?.action).toBe(annotations.action);
    expect(back?.fields).toEqual(annotations['changed-fields'] ? annotations['changed-fields'].split(',') : []);
  });

  it('carries the snapshot hashes before and after, independent of key order', () => {
    const res = reviewResponse(
      review('UPDATE', { spec: { team: 't', revoked: false } }, { spec: { revoked: false, team: 't' } }),
    );
    const a = (res.body as { response: { auditAnnotations: Record<string, string> } }).response.auditAnnotations;
    expect(a.before).toMatch(/^[0-9a-f]{10}$/);
    expect(a.after).toBe(a.before);
    const back = classifiedFromAnnotations(prefixed(a));
    expect([back?.before, back?.after]).toEqual([a.before, a.after]);
  });

  it('a body that is not an AdmissionReview is a 400 with the reason', () => {
    expect(reviewResponse({ kind: 'Nope' }).status).toBe(400);
  });

  it('audit events without (or with foreign) annotations fall back to comparing snapshots', () => {
    expect(classifiedFromAnnotations(undefined)).toBeUndefined();
    expect(classifiedFromAnnotations({ 'other.example.com/action': 'edit' })).toBeUndefined();
    expect(classifiedFromAnnotations(prefixed({ action: 'explode' }))).toBeUndefined();
  });
});
