import { z } from 'zod';
import { timestamp } from './fields.ts';

// metav1.Condition, as every Kubernetes controller writes it.
export const ConditionSchema = z
  .object({
    type: z.string().max(64),
    status: z.enum(['True', 'False', 'Unknown']),
    reason: z.string().max(128),
    message: z.string().max(2048),
    lastTransitionTime: timestamp(),
    observedGeneration: z.number().int().min(0).optional(),
  })
  .strict();
export type Condition = z.infer<typeof ConditionSchema>;

export const conditionList = () =>
  z
    .array(ConditionSchema)
    .max(16)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });

// The ApiKey's condition types and every reason the operator writes, once (docs/design.md §2 "Status").
// The operator's status builders only accept these (typed), and the CLI renders them by name — no
// guessing from the reason's spelling. A new reason is added here, with its meaning for the CLI.

export const CONDITION_TYPES = {
  ready: 'Ready',
  rotating: 'Rotating',
  expired: 'Expired',
  revoked: 'Revoked',
  restartTargets: 'RestartTargets',
} as const;
export type ConditionType = (typeof CONDITION_TYPES)[keyof typeof CONDITION_TYPES];

/** What a reason means to someone reading `keys list` / `keys describe`. */
export type ReasonKind =
  | 'ok' // nothing to do
  | 'note' // works, with a caveat worth reading (scopes narrowed by the Team, expiry capped, hand-off pending)
  | 'scopeRefusal' // the Team refuses some or all of the requested scopes
  | 'blocked'; // the key does not work until someone acts

export const CONDITION_REASONS = {
  Ready: {
    KeyReady: 'ok',
    ScopesRestricted: 'scopeRefusal',
    ExpirationCapped: 'note',
    InvalidSpec: 'blocked',
    TeamNotFound: 'blocked',
    TeamInvalid: 'blocked',
    NoAllowedModels: 'scopeRefusal',
    NoAllowedEndpoints: 'scopeRefusal',
    NoAllowedSources: 'scopeRefusal',
    IpAllowlistUnresolved: 'blocked',
    SecretConflict: 'blocked',
    Revoked: 'blocked',
    Expired: 'blocked',
    ExpirationInPast: 'blocked',
    Pending: 'blocked',
  },
  Rotating: {
    HandoffPending: 'note',
    HandoffManual: 'note',
    NoPredecessor: 'ok',
  },
  Expired: {
    Expired: 'blocked',
    ExpiringSoon: 'note',
    NotExpired: 'ok',
    NoExpiry: 'ok',
  },
  Revoked: {
    RevokedBySpec: 'blocked',
    KeyIdsRevoked: 'note',
    NotRevoked: 'ok',
  },
  RestartTargets: {
    TargetsFound: 'ok',
    TargetNotFound: 'blocked',
  },
} as const satisfies Record<ConditionType, Record<string, ReasonKind>>;

export type ConditionReason<T extends ConditionType = ConditionType> = T extends ConditionType
  ? keyof (typeof CONDITION_REASONS)[T] & string
  : never;

/** A condition as the operator plans it (before lastTransitionTime bookkeeping): only known types and reasons. */
export type DesiredCondition = {
  [T in ConditionType]: { type: T; status: Condition['status']; reason: ConditionReason<T>; message: string };
}[ConditionType];

/** The kind of a reason the API server returned; undefined for a reason this version does not know. */
export function reasonKind(type: string, reason: string): ReasonKind | undefined {
  const reasons = (CONDITION_REASONS as Record<string, Record<string, ReasonKind>>)[type];
  return reasons && Object.hasOwn(reasons, reason) ? reasons[reason] : undefined;
}
