import type { KubernetesObject, V1ObjectMeta, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import type {
  ApiKeySpecInput,
  ApiKeyStatus,
  Environment,
  KeyUsage,
  TeamSpecInput,
  TeamStatus,
} from '../../api/index.ts';
import type { ReminderKind } from '../keys/expiry.ts';

// Inputs and outputs of the ApiKey planner (plan.ts). Everything here is plain data.

export interface ApiKeyObject extends KubernetesObject {
  metadata?: V1ObjectMeta;
  /** As served (the CRD schema guarantees the shape); parse with api/spec.ts parseApiKeySpec for defaults + checks. */
  spec?: ApiKeySpecInput;
  status?: ApiKeyStatus;
}
export interface TeamObject extends KubernetesObject {
  metadata?: V1ObjectMeta;
  spec?: TeamSpecInput;
  status?: TeamStatus;
}

/** A freshly generated key as the planner sees it: never the plaintext. */
export interface MintedKey {
  keyId: string;
  hash: string;
  hint: string;
}

export interface PlanInputs {
  /** `namespace/name` being reconciled (the ApiKey may be gone). */
  namespace: string;
  name: string;
  apiKey: ApiKeyObject | undefined;
  team: TeamObject | undefined;
  /** The Secret named by spec.secret.name (default: the ApiKey's name), from the cache. */
  secret: V1Secret | undefined;
  /** Record Secrets labelled with this ApiKey's namespace/name (any uid). */
  records: readonly V1Secret[];
  /** Usage summed over gateway replicas, per key id. */
  usage: ReadonlyMap<string, KeyUsage>;
  recordsNamespace: string;
  /** Who automatic actions are attributed to in the audit log. */
  operatorIdentity: string;
  /** Set on the second planning pass, after the apply step generated the key the first pass asked for. */
  minted?: MintedKey;
  /** `Kind/name` → exists, for spec.rotation.restartTargets; undefined while not checked yet. */
  restartTargets?: ReadonlyMap<string, boolean>;
  /** spec.ipAllowlistFrom read from its ConfigMaps; undefined when not read (fails closed if referenced). */
  ipAllowlistFrom?: ResolvedAllowlist;
  /** The Team's spec.ipAllowlistFrom, read in the same namespace; undefined when not read (fails closed). */
  teamIpAllowlistFrom?: ResolvedAllowlist;
}

/** The CIDRs of all spec.ipAllowlistFrom references, or why they could not be read. */
export type ResolvedAllowlist = { ok: true; cidrs: string[] } | { ok: false; error: string };

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** Deterministic object name, so a retried reconcile cannot emit the same Event twice. */
  name: string;
  reminder?: ReminderKind;
}

export type AuditAction = 'create' | 'rotate' | 'revoke' | 'expire';
export interface AuditEntry {
  action: AuditAction;
  apiKey: string;
  keyId: string;
  /** `operator` for automatic actions, `user:<field manager>` for spec / annotation changes. */
  actor: string;
  reason: string;
  /** rotate: the predecessor key id; revoke at the end of a hand-off: the successor key id. */
  relatedKeyId?: string;
  /** The ApiKey's uid, added when the entry is handed to the audit (its trail is owned by it). */
  uid?: string;
}

/** The workload Secret as it should be; the plaintext is added by the apply step (minted) or kept. */
export interface DesiredWorkloadSecret {
  namespace: string;
  name: string;
  dataKey: string;
  keyId: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerReference: V1OwnerReference;
}

export interface MintRequest {
  kind: 'mint';
  environment: Environment | undefined;
  reason: string;
}

export interface ApplyPlan {
  kind: 'apply';
  finalizer?: 'add' | 'remove';
  /** Record Secrets that must exist with exactly this content (records namespace). */
  records: V1Secret[];
  /** Names of record Secrets to delete (records namespace). */
  deleteRecords: string[];
  secret?: DesiredWorkloadSecret;
  /** Desired status; undefined when the ApiKey is gone or being deleted. */
  status?: ApiKeyStatus;
  events: PlannedEvent[];
  audit: AuditEntry[];
  requeueAfterMs?: number;
}

export type Plan = MintRequest | ApplyPlan;
