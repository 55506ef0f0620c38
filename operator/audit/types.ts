import type { KubernetesObject } from '@kubernetes/client-node';

/** The parts of a Team / ApiKey the audit trail reads. */
export interface ObjectMeta extends KubernetesObject {
  spec?: unknown;
  status?: { currentKeyId?: string };
}
