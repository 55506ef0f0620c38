import { describe, expect, it } from 'vitest';
import { changesOf } from './event.ts';

const base = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Metadata',
  auditID: 'id-1',
  stage: 'ResponseComplete',
  requestURI: '/apis/keys.nemorouter.io/v1alpha1/namespaces/ns/apikeys/svc',
  verb: 'patch',
  user: { username: 'nemokeys-admin', groups: ['system:masters', 'system:authenticated'] },
  impersonatedUser: { username: 'alice', groups: ['system:masters'] },
  sourceIPs: ['127.0.0.1'],
  userAgent: 'kubectl/v1.34',
  objectRef: {
    resource: 'apikeys',
    namespace: 'ns',
    name: 'svc',
    apiGroup: 'keys.nemorouter.io',
    apiVersion: 'v1alpha1',
  },
  responseStatus: { metadata: {}, code: 200 },
  requestReceivedTimestamp: '2026-11-27T21:00:00.123456Z',
  stageTimestamp: '2026-11-27T21:00:00.130000Z',
};

describe('changesOf: audit events → changes', () => {
  it('attributes to the impersonated user and names who impersonated', () => {
    expect(changesOf([base]).changes).toEqual([
      {
        auditId: 'id-1',
        kind: 'ApiKey',
        namespace: 'ns',
        name: 'svc',
        verb: 'patch',
        actor: { username: 'alice', groups: ['system:masters'], impersonatedBy: 'nemokeys-admin' },
        sourceIp: '127.0.0.1',
        time: '2026-11-27T21:00:00.123456Z',
      },
    ]);
  });

  it('without impersonation: the authenticated user', () => {
    const { impersonatedUser: _drop, ...plain } = base;
    expect(changesOf([plain]).changes[0]!.actor).toEqual({
      username: 'nemokeys-admin',
      groups: ['system:masters', 'system:authenticated'],
    });
  });

  it.each([
    ['a failed request (409 changed nothing)', { responseStatus: { code: 409 } }],
    ['an earlier stage', { stage: 'RequestReceived' }],
    ['a read', { verb: 'get' }],
    ["the status subresource (the operator's)", { objectRef: { ...base.objectRef, subresource: 'status' } }],
    ['another resource', { objectRef: { ...base.objectRef, resource: 'secrets', apiGroup: '' } }],
    ['another group', { objectRef: { ...base.objectRef, apiGroup: 'example.com' } }],
  ])('skips %s', (_n, patch) => {
    expect(changesOf([{ ...base, ...patch }])).toEqual({ changes: [], invalid: 0 });
  });

  it('counts events that do not parse instead of failing the batch', () => {
    const got = changesOf([{ nope: true }, base, 'x']);
    expect(got.invalid).toBe(2);
    expect(got.changes).toHaveLength(1);
  });

  it('Teams too; a missing source IP stays missing (unknown), never invented', () => {
    const { sourceIPs: _drop, ...noIp } = base;
    const [c] = changesOf([{ ...noIp, objectRef: { ...base.objectRef, resource: 'teams', name: 'payments' } }]).changes;
    expect(c!.kind).toBe('Team');
    expect(c!.sourceIp).toBeUndefined();
  });
});
