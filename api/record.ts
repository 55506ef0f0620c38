import { z } from 'zod';
import { BUDGET_PERIODS, ENVIRONMENTS, KEY_STATES } from './constants.ts';
import { timestamp } from './fields.ts';

// The hashed key record: what the operator writes (one labelled Secret per key id in the records
// namespace) and the gateway reads. It never holds plaintext, only the SHA-256 of the key.
// docs/design.md §2 "Hashed key records": `state` is the one field the gateway decides from.
export const KEY_RECORD_SCHEMA_VERSION = 2;

/**
 * Why a key id is suspended: its Team is missing or invalid, the Team allows none of its models, endpoints
 * or source addresses, or an ipAllowlistFrom list (the key's or its Team's) cannot be read. The key id keeps
 * its lineage state (status.keys[]) and works again once that is fixed.
 */
export const SUSPENSION_REASONS = [
  'TeamNotFound',
  'TeamInvalid',
  'NoAllowedModels',
  'NoAllowedEndpoints',
  'NoAllowedSources',
  'IpAllowlistUnresolved',
] as const;
export type SuspensionReason = (typeof SUSPENSION_REASONS)[number];

/** The lineage states, plus Suspended (usable in the lineage, refused until its Team allows it again). */
export const RECORD_STATES = [...KEY_STATES, 'Suspended'] as const;
export type RecordState = (typeof RECORD_STATES)[number];

const ScopesSchema = z
  .object({
    models: z.array(z.string()),
    endpoints: z.array(z.string()),
    ipAllowlist: z.array(z.string()),
  })
  .strict();

export const KeyRecordSchema = z
  .object({
    schemaVersion: z.literal(KEY_RECORD_SCHEMA_VERSION),
    keyId: z.string().min(1).max(32),
    hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256'),
    owner: z.object({ namespace: z.string(), name: z.string(), uid: z.string() }).strict(),
    team: z.string(),
    environment: z.enum(ENVIRONMENTS).optional(),
    /** Active and Superseded are usable; every other state is refused with its own answer. */
    state: z.enum(RECORD_STATES),
    /** Only with state Suspended (the operator always sets it; an upgraded version 1 record has none). */
    suspendedReason: z.enum(SUSPENSION_REASONS).optional(),
    expiresAt: timestamp().nullable(),
    /** Effective scopes = key ∩ team. models ["*"] = all; endpoints [] = all; ipAllowlist [] = any source. */
    scopes: ScopesSchema,
    rateLimit: z
      .object({
        requestsPerMinute: z.number().int().positive().optional(),
        tokensPerMinute: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    budget: z
      .object({ credits: z.number().int().positive(), period: z.enum(BUDGET_PERIODS) })
      .strict()
      .optional(),
    /** Counters (rate limit, budget) are per ApiKey, shared by all its key ids: this names the bucket. */
    limitsKey: z.string().min(1),
    /** When the operator last rendered this record (diagnostics; counters never key on it). */
    updatedAt: timestamp(),
  })
  .strict()
  .refine((r) => r.suspendedReason === undefined || r.state === 'Suspended', {
    message: 'suspendedReason is only allowed with state Suspended',
    path: ['suspendedReason'],
  });

export type KeyRecord = z.infer<typeof KeyRecordSchema>;

/**
 * Version 1 records (written by operators before the single state field) carried `revoked: true` next to
 * an Active/Superseded state for a suspended key. Read them as version 2 so a gateway upgraded before
 * the operator keeps refusing exactly what it refused before; the operator rewrites them as version 2.
 */
function upgradeV1(json: Record<string, unknown>): Record<string, unknown> {
  const { revoked, ...rest } = json;
  const usable = rest.state === 'Active' || rest.state === 'Superseded';
  if (revoked === true && usable) return { ...rest, schemaVersion: KEY_RECORD_SCHEMA_VERSION, state: 'Suspended' };
  return { ...rest, schemaVersion: KEY_RECORD_SCHEMA_VERSION };
}

/** Parses a record's JSON text; a clear error message instead of an exception. */
export function parseKeyRecord(text: string): { ok: true; record: KeyRecord } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `record is not JSON: ${(e as Error).message}` };
  }
  if (json && typeof json === 'object' && (json as { schemaVersion?: unknown }).schemaVersion === 1) {
    json = upgradeV1(json as Record<string, unknown>);
  }
  const result = KeyRecordSchema.safeParse(json);
  return result.success ? { ok: true, record: result.data } : { ok: false, error: z.prettifyError(result.error) };
}

/** Stable JSON (sorted object keys), so an unchanged record renders byte-identical and causes no write. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Whether two JSON values are equal as canonical() would render them — key order ignored, properties
 * whose value is undefined absent — without rendering either (a reconcile compares every key's status).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    // JSON renders undefined array items as null.
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let present = 0;
  for (const k in x) {
    if (x[k] === undefined) continue;
    present++;
    if (!sameJson(x[k], y[k])) return false;
  }
  for (const k in y) if (y[k] !== undefined) present--;
  return present === 0;
}

/** Whether the gateway lets the key id through (before its expiry and scope checks): Active or Superseded. */
export const isUsableRecord = (r: Pick<KeyRecord, 'state'>): boolean =>
  r.state === 'Active' || r.state === 'Superseded';
