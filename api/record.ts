import { z } from 'zod';
import { BUDGET_PERIODS, ENVIRONMENTS, KEY_STATES } from './apikey.ts';
import { timestamp } from './fields.ts';

// The hashed key record: what the operator writes (one labelled Secret per key id in the records
// namespace) and the gateway reads. It never holds plaintext, only the SHA-256 of the key.
export const KEY_RECORD_SCHEMA_VERSION = 1;

export const KeyRecordSchema = z
  .object({
    schemaVersion: z.literal(KEY_RECORD_SCHEMA_VERSION),
    keyId: z.string().min(1).max(32),
    hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256'),
    owner: z.object({ namespace: z.string(), name: z.string(), uid: z.string() }).strict(),
    team: z.string(),
    environment: z.enum(ENVIRONMENTS).optional(),
    state: z.enum(KEY_STATES),
    /** True for every state but Active/Superseded; kept explicit so the gateway check is one boolean. */
    revoked: z.boolean(),
    expiresAt: timestamp().nullable(),
    /** Effective scopes = key ∩ team. models ["*"] = all; endpoints [] = all; ipAllowlist [] = any source. */
    scopes: z
      .object({
        models: z.array(z.string()),
        endpoints: z.array(z.string()),
        ipAllowlist: z.array(z.string()),
      })
      .strict(),
    rateLimit: z
      .object({ requestsPerMinute: z.number().int().positive().optional(), tokensPerMinute: z.number().int().positive().optional() })
      .strict()
      .optional(),
    budget: z.object({ credits: z.number().int().positive(), period: z.enum(BUDGET_PERIODS) }).strict().optional(),
    /** Counters (rate limit, budget) are per ApiKey, shared by all its key ids: this names the bucket. */
    limitsKey: z.string().min(1),
    /** When the operator last rendered this record (diagnostics; counters never key on it). */
    updatedAt: timestamp(),
  })
  .strict();

export type KeyRecord = z.infer<typeof KeyRecordSchema>;

/** Parses a record's JSON text; a clear error message instead of an exception. */
export function parseKeyRecord(text: string): { ok: true; record: KeyRecord } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `record is not JSON: ${(e as Error).message}` };
  }
  const result = KeyRecordSchema.safeParse(json);
  return result.success ? { ok: true, record: result.data } : { ok: false, error: z.prettifyError(result.error) };
}
