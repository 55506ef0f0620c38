// Names shared by the CRDs, the operator, the gateway and the CLI. Changing one here changes it everywhere.
export const GROUP = 'keys.nemorouter.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const KINDS = {
  team: { kind: 'Team', plural: 'teams', singular: 'team', shortNames: [] as string[] },
  apiKey: { kind: 'ApiKey', plural: 'apikeys', singular: 'apikey', shortNames: ['ak'] },
} as const;

/** Labels and annotations the operator puts on what it manages (label selectors keep watches small). */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  record: `${GROUP}/record`,
  usage: `${GROUP}/usage`,
  workloadSecret: `${GROUP}/workload-secret`,
  apiKeyName: `${GROUP}/apikey`,
  apiKeyNamespace: `${GROUP}/apikey-namespace`,
  apiKeyUid: `${GROUP}/apikey-uid`,
  keyId: `${GROUP}/key-id`,
  team: `${GROUP}/team`,
} as const;

export const MANAGED_BY = 'nemokeys';

export const ANNOTATIONS = {
  /** A new value requests one rotation (like cert-manager's renew / external-secrets' force-sync). */
  rotate: `${GROUP}/rotate`,
  keyId: `${GROUP}/key-id`,
  /** Set on pod templates of rotation.restartTargets so they roll when the key changes. */
  restartedFor: `${GROUP}/restarted-for-key-id`,
} as const;

export const FINALIZER = `${GROUP}/records`;
export const FIELD_MANAGER = 'nemokeys-operator';
export const GATEWAY_FIELD_MANAGER = 'nemokeys-gateway';

/** Data keys inside the record / usage objects in the records namespace. */
export const RECORD_DATA_KEY = 'record.json';
export const USAGE_DATA_KEY = 'usage.json';
export const DEFAULT_SECRET_DATA_KEY = 'api-key';
export const DEFAULT_RECORDS_NAMESPACE = 'nemokeys-system';

/** Bounded history: status.keys never grows past this many entries. */
export const MAX_KEY_HISTORY = 10;

// Enumerations shared by the ApiKey schema (api/apikey.ts) and the record (api/record.ts). Here, not in
// apikey.ts, so the gateway's record decoding does not build the whole ApiKey schema (~5 MiB of RSS).
export const ENVIRONMENTS = ['dev', 'stage', 'prod'] as const;
export const KEY_STATES = ['Active', 'Superseded', 'Revoked', 'Expired'] as const;
export const BUDGET_PERIODS = ['Never', 'Daily', 'Monthly'] as const;
