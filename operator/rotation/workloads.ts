import type { KubernetesObject } from '@kubernetes/client-node';
import type { RESTART_TARGET_KINDS } from '../../api/apikey.ts';
import { ANNOTATIONS, FIELD_MANAGER } from '../../api/constants.ts';
import { PATCH, patchObject, readIfExists } from '../../kube/apply.ts';
import type { KubeClient } from '../../kube/client.ts';
import { resourceTypeOf } from '../../kube/resources.ts';

// The restart targets (rotation.restartTargets) as the operator touches them: read the pod template
// annotation, and set it. Nothing else of a workload is ever read or written. Reads are direct GETs,
// not a watch: the operator would otherwise cache every Deployment/StatefulSet/DaemonSet of the
// cluster, and the chart grants only get + patch on them.

export type RestartTargetKind = (typeof RESTART_TARGET_KINDS)[number];

export interface TargetRef {
  namespace: string;
  kind: RestartTargetKind;
  name: string;
}

export type WorkloadState = { exists: false } | { exists: true; annotation: string | undefined };

export interface WorkloadClient {
  read(ref: TargetRef): Promise<WorkloadState>;
  /** Sets spec.template.metadata.annotations[restartedFor] = value (a pod template change: a rollout). */
  setAnnotation(ref: TargetRef, value: string): Promise<void>;
}

interface Workload extends KubernetesObject {
  spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
}

export function createKubeWorkloads(kube: KubeClient): WorkloadClient {
  const ref = (t: TargetRef) => ({ apiVersion: 'apps/v1', kind: t.kind, namespace: t.namespace, name: t.name });
  return {
    async read(t) {
      const w = await readIfExists<Workload>(kube, ref(t));
      return w
        ? { exists: true, annotation: w.spec?.template?.metadata?.annotations?.[ANNOTATIONS.restartedFor] }
        : { exists: false };
    },
    async setAnnotation(t, value) {
      // A JSON merge patch of one annotation (what `kubectl rollout restart` does), not server-side
      // apply: SSA would make the operator co-own the pod template and conflict with the workload's
      // own manager (Helm, Argo CD) over a field it does not need to own.
      const body: Workload = {
        spec: { template: { metadata: { annotations: { [ANNOTATIONS.restartedFor]: value } } } },
      };
      const type = await resourceTypeOf(kube, 'apps/v1', t.kind);
      await patchObject(kube, type, t, body, { contentType: PATCH.merge, fieldManager: FIELD_MANAGER });
    },
  };
}
