import type { CoreV1Event, V1Secret } from '@kubernetes/client-node';
import type { ApiKeyStatus } from '../../api/apikey.ts';
import { API_VERSION, FIELD_MANAGER, FINALIZER, GROUP, KINDS, VERSION } from '../../api/constants.ts';
import {
  applyObject,
  createObject,
  deleteIfExists,
  isConflict,
  patchCustomStatus,
  patchMetadata,
} from '../../kube/apply.ts';
import type { KubeClient } from '../../kube/client.ts';
import { EVENTS } from '../../kube/resources.ts';
import type { ApiKeyObject, PlannedEvent } from './types.ts';
import type { ApiKeyWriter } from './writer.ts';

// ApiKeyWriter against the API server: SSA for the Secrets we render, merge patches guarded by
// resourceVersion for finalizers and status (computed from a cache: a stale view must not win).

export const EVENT_COMPONENT = 'nemokeys-operator';

export function createKubeWriter(kube: KubeClient, opts: { reportingInstance?: string } = {}): ApiKeyWriter {
  const ref = (ak: ApiKeyObject) => ({ namespace: ak.metadata!.namespace!, name: ak.metadata!.name! });
  return {
    async setFinalizer(ak, present) {
      const others = (ak.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER);
      const res = await patchMetadata(
        kube,
        { apiVersion: API_VERSION, kind: KINDS.apiKey.kind, ...ref(ak) },
        { finalizers: present ? [...others, FINALIZER] : others, resourceVersion: ak.metadata?.resourceVersion },
        { fieldManager: FIELD_MANAGER },
      );
      return res.metadata?.resourceVersion;
    },
    async applyRecord(record) {
      return (await applyObject<V1Secret>(kube, record, { fieldManager: FIELD_MANAGER })).metadata?.resourceVersion;
    },
    async deleteRecord(namespace, name) {
      await deleteIfExists(kube, { apiVersion: 'v1', kind: 'Secret', namespace, name });
    },
    async applySecret(secret) {
      return (await applyObject<V1Secret>(kube, secret, { fieldManager: FIELD_MANAGER })).metadata?.resourceVersion;
    },
    async writeStatus(ak, status: ApiKeyStatus) {
      // Merge patch: fields we no longer want must be nulled explicitly.
      const body: Record<string, unknown> = { ...status };
      for (const k of Object.keys(ak.status ?? {})) if (!(k in body)) body[k] = null;
      const res = await patchCustomStatus(
        kube,
        { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural, ...ref(ak) },
        body,
        { fieldManager: FIELD_MANAGER, resourceVersion: ak.metadata?.resourceVersion },
      );
      return res.metadata?.resourceVersion;
    },
    async createEvent(ak, ev: PlannedEvent, now) {
      const { namespace, name } = ref(ak);
      try {
        await createObject<CoreV1Event>(kube, EVENTS, {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: ev.name, namespace },
          involvedObject: {
            apiVersion: API_VERSION,
            kind: KINDS.apiKey.kind,
            name,
            namespace,
            uid: ak.metadata?.uid,
            resourceVersion: ak.metadata?.resourceVersion,
          },
          type: ev.type,
          reason: ev.reason,
          message: ev.message.slice(0, 1024),
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          source: { component: EVENT_COMPONENT },
          reportingComponent: EVENT_COMPONENT,
          reportingInstance: opts.reportingInstance ?? EVENT_COMPONENT,
        });
        return true;
      } catch (err) {
        if (isConflict(err)) return false; // AlreadyExists: this exact Event was sent before
        throw err;
      }
    },
  };
}
