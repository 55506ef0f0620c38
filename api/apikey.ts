import { z } from 'zod';
import { conditionList } from './conditions.ts';
import { BUDGET_PERIODS, ENVIRONMENTS, KEY_STATES, MAX_KEY_HISTORY } from './constants.ts';
import { KEY_ID_PATTERN } from './keyformat.ts';
import {
  celString,
  cidr,
  dnsLabel,
  emailAddress,
  duration,
  endpointPath,
  expiration,
  modelName,
  objectName,
  secretDataKey,
  stringSet,
  timestamp,
} from './fields.ts';

const KEY_ID_REGEX = new RegExp(KEY_ID_PATTERN);
const keyIdField = () =>
  celString(16, (s) => KEY_ID_REGEX.test(s), {
    rule: `self.matches('${KEY_ID_PATTERN}')`,
    message: 'must be a key id as shown in status.keys[].id (16 characters)',
  });

/**
 * Revocation is final (docs/design.md §2): the API server refuses an update that drops an id from
 * spec.revokedKeyIds (or the whole list). A transition rule on the spec, not on the list, because a rule on
 * the list itself is not evaluated when the list is removed. zod cannot see the old object: admission only.
 */
export const REVOCATION_IS_FINAL = {
  rule: '!has(oldSelf.revokedKeyIds) || (has(self.revokedKeyIds) && oldSelf.revokedKeyIds.all(x, x in self.revokedKeyIds))',
  message:
    'spec.revokedKeyIds: revocation is final; a key id cannot be removed from the list (rotate to get a new key id)',
  fieldPath: '.revokedKeyIds',
} as const;

/**
 * Revoked ids can never leave the list, so it must outlast many rotations (one id per rotation: 256
 * covers a monthly rotation for 20 years). The transition rule is O(n²) in CEL cost; 256² stays far
 * below the API server's per-expression budget (tested on the real API server).
 */
export const REVOKED_KEY_IDS_MAX = 256;

export { BUDGET_PERIODS, ENVIRONMENTS, KEY_STATES } from './constants.ts';
/** Automatic: the operator revokes a predecessor once the hand-off is confirmed. Manual: the user does. */
export const HANDOFF_MODES = ['Automatic', 'Manual'] as const;
export const handoffMode = () =>
  z
    .enum(HANDOFF_MODES)
    .describe(
      'Automatic (default): predecessors are revoked once the hand-off is confirmed (idle/maxOverlap). ' +
        'Manual: every predecessor stays valid until you revoke it (spec.revokedKeyIds, `keys handoff`).',
    );
/** ConfigMap references per ApiKey or Team (spec.ipAllowlistFrom). */
export const IP_ALLOWLIST_FROM_MAX = 8;

/** spec.ipAllowlistFrom, the same shape on ApiKey and Team: ConfigMap keys in the object's namespace. */
export const ipAllowlistFrom = () =>
  z
    .array(
      z
        .object({
          configMapKeyRef: z
            .object({
              name: objectName('ConfigMap in this namespace'),
              key: secretDataKey(),
            })
            .strict()
            .describe(
              'A ConfigMap data key holding one CIDR or address per line (blank lines and # comments allowed).',
            ),
        })
        .strict(),
    )
    .max(IP_ALLOWLIST_FROM_MAX)
    .optional();

export const RESTART_TARGET_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

const RotationSchema = z
  .object({
    automatic: z.boolean().default(false).describe('Generate a successor rotation.before ahead of expiry.'),
    before: duration()
      .optional()
      .describe('How long before expiry the successor is generated (default: a third of the lifetime).'),
    handoff: z
      .object({
        mode: handoffMode().optional(),
        idle: duration()
          .default('1h')
          .describe('Predecessor idle time, after the successor is in use, that confirms the hand-off.'),
        maxOverlap: duration().default('7d').describe('Hard cap on how long predecessor and successor are both valid.'),
      })
      .strict()
      .optional(),
    restartTargets: z
      .array(z.object({ kind: z.enum(RESTART_TARGET_KINDS), name: dnsLabel('workload') }).strict())
      .max(16)
      .optional()
      .describe('Workloads in this namespace rolled (pod template annotation) when the key in the Secret changes.'),
  })
  .strict();

export const ApiKeySpecSchema = z
  .object({
    team: dnsLabel('Team in this namespace')
      .min(1)
      .describe('The Team (same namespace) whose permissions this key inherits.'),
    allowedModels: stringSet(modelName(), 256)
      .optional()
      .describe('Per-key model allowlist; empty means everything the team can use.'),
    allowedEndpoints: stringSet(endpointPath(), 64)
      .optional()
      .describe('Per-key endpoint allowlist; empty means all the team allows.'),
    ipAllowlist: stringSet(cidr(), 128)
      .optional()
      .describe('Source CIDR blocks; a bare address is /32 or /128; empty means any source.'),
    ipAllowlistFrom: ipAllowlistFrom().describe(
      'More source CIDRs, read from ConfigMaps in this namespace and added to ipAllowlist (docs/design.md §2).',
    ),
    expiration: expiration()
      .default('Never')
      .describe("Never, a duration from the key id's creation (30d, 90d), or an RFC 3339 datetime."),
    environment: z
      .enum(ENVIRONMENTS)
      .optional()
      .describe('Shown in the key prefix so a leaked key tells where it came from.'),
    secret: z
      .object({
        name: objectName('Secret').optional().describe("Workload Secret name; default: the ApiKey's name."),
        key: secretDataKey().default('api-key').describe('Data key in the workload Secret.'),
      })
      .strict()
      .optional(),
    rotation: RotationSchema.optional(),
    rateLimit: z
      .object({
        requestsPerMinute: z.number().int().min(1).max(1_000_000).optional(),
        tokensPerMinute: z.number().int().min(1).max(1_000_000_000).optional(),
      })
      .strict()
      .optional(),
    budget: z
      .object({
        credits: z
          .number()
          .int()
          .min(1)
          .max(1_000_000_000_000)
          .describe(
            'Credits per period; a request costs the usage.total_tokens the router reports, else what it reserved (max_tokens or the gateway default).',
          ),
        period: z.enum(BUDGET_PERIODS).default('Never'),
      })
      .strict()
      .optional(),
    revoked: z.boolean().default(false).describe('Revokes every key id of this ApiKey.'),
    contacts: stringSet(emailAddress(), 20)
      .optional()
      .describe("Email addresses that get this key's expiry reminders (with the team's contacts)."),
    revokedKeyIds: stringSet(keyIdField(), REVOKED_KEY_IDS_MAX)
      .optional()
      .describe(
        'Revokes just these key ids (e.g. a superseded key a forgotten consumer still uses). Final: an id cannot be removed again.',
      ),
  })
  .strict()
  .meta({ 'x-kubernetes-validations': [REVOCATION_IS_FINAL] });

export const KeyEntrySchema = z
  .object({
    id: z.string().max(32),
    hint: z.string().max(8).describe('Last 4 characters of the key.'),
    state: z.enum(KEY_STATES),
    createdAt: timestamp(),
    expiresAt: timestamp().optional(),
    lastUsedAt: timestamp().optional(),
    requests: z.number().int().min(0).optional(),
    credits: z.number().int().min(0).optional(),
    supersededAt: timestamp().optional(),
    revokedAt: timestamp().optional(),
    revokedReason: z.string().max(256).optional(),
    reminders: z
      .array(z.enum(['7d', '1d', 'expired']))
      .max(3)
      .optional()
      .describe('Expiry reminders already sent.'),
  })
  .strict();

export const ApiKeyStatusSchema = z
  .object({
    observedGeneration: z.number().int().min(0).optional(),
    conditions: conditionList().optional(),
    currentKeyId: z.string().max(32).optional(),
    secretName: z.string().max(253).optional(),
    expiresAt: timestamp().optional(),
    lastUsedAt: timestamp().optional(),
    usage: z
      .object({ requests: z.number().int().min(0), credits: z.number().int().min(0) })
      .strict()
      .optional(),
    keys: z
      .array(KeyEntrySchema)
      .max(MAX_KEY_HISTORY)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['id'] }),
    lastRotationRequest: z.string().max(256).optional().describe('Value of the rotate annotation last acted on.'),
  })
  .strict();

export type ApiKeySpec = z.infer<typeof ApiKeySpecSchema>;
export type ApiKeySpecInput = z.input<typeof ApiKeySpecSchema>;
export type HandoffMode = (typeof HANDOFF_MODES)[number];
export type ApiKeyStatus = z.infer<typeof ApiKeyStatusSchema>;
export type KeyEntry = z.infer<typeof KeyEntrySchema>;
export type KeyState = (typeof KEY_STATES)[number];
export type Environment = (typeof ENVIRONMENTS)[number];
