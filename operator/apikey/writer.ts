import type { V1Secret } from '@kubernetes/client-node';
import type { ApiKeyStatus } from '../../api/apikey.ts';
import type { ApiKeyObject, PlannedEvent } from './types.ts';

// Every write the ApiKey controller makes, as one interface: the Kubernetes implementation
// (kube-writer.ts) and the in-memory fake used by the glue tests (fake-writer.ts) both implement it.
// Each returns the resourceVersion the API server assigned (for read-your-writes expectations).

export interface ApiKeyWriter {
  setFinalizer(apiKey: ApiKeyObject, present: boolean): Promise<string | undefined>;
  /** Server-side apply of a record Secret in the records namespace. */
  applyRecord(record: V1Secret): Promise<string | undefined>;
  deleteRecord(namespace: string, name: string): Promise<void>;
  /** Server-side apply of the workload Secret (the one object with plaintext). */
  applySecret(secret: V1Secret): Promise<string | undefined>;
  /** Replaces status on /status; fields of `previous` missing from `status` are removed. */
  writeStatus(apiKey: ApiKeyObject, status: ApiKeyStatus): Promise<string | undefined>;
  /** Creates an Event on the ApiKey; returns false when an Event of that name already exists. */
  createEvent(apiKey: ApiKeyObject, event: PlannedEvent, now: Date): Promise<boolean>;
}
