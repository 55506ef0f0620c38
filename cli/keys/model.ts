// The ApiKey object as the CLI reads it from the API server. Nothing here is validated by the server
// beyond the CRD schema, and status may lag or be missing, so every field is optional.
import type { ApiKeySpecInput, ApiKeyStatus, KeyEntry } from '../../api/index.ts';
import { apiKeyDefaults } from '../../api/index.ts';

export interface ApiKeyObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: Partial<ApiKeySpecInput>;
  status?: ApiKeyStatus;
}

/** Field manager the CLI writes with, so `managedFields` tells a human the change came from here. */
export const CLI_FIELD_MANAGER = 'nemokeys-cli';

export const keyEntries = (obj: ApiKeyObject): KeyEntry[] => obj.status?.keys ?? [];

export const knownKeyIds = (obj: ApiKeyObject): string[] => keyEntries(obj).map((k) => k.id);

/** The workload Secret the operator writes (spec default: the ApiKey's own name). */
export function workloadSecret(obj: ApiKeyObject): { name: string; key: string } {
  return apiKeyDefaults(obj.metadata.name, obj.spec).secret;
}

export const currentEntry = (obj: ApiKeyObject): KeyEntry | undefined => {
  const id = obj.status?.currentKeyId;
  return id === undefined ? undefined : keyEntries(obj).find((k) => k.id === id);
};

/** Key ids replaced by a successor that still authenticate until the hand-off completes. */
export const supersededIds = (obj: ApiKeyObject): string[] =>
  keyEntries(obj)
    .filter((k) => k.state === 'Superseded')
    .map((k) => k.id);

export const qualifiedName = (obj: ApiKeyObject): string =>
  obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;

/** Alphabetical by name (the product page: a dev-/stage-/prod- prefix groups environments), then namespace. */
export function byName(a: ApiKeyObject, b: ApiKeyObject): number {
  return compare(a.metadata.name, b.metadata.name) || compare(a.metadata.namespace ?? '', b.metadata.namespace ?? '');
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
