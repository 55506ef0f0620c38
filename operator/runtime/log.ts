// Structured JSON logs (pino) and the audit stream. Both scrub anything shaped like an API key as a
// last line of defence: plaintext keys must never reach logs, even through an error message.
import pino, { type DestinationStream, type Logger } from 'pino';
import { isKeyId, KEY_SCANNER_PATTERN } from '../../api/keyformat.ts';

export type { Logger } from 'pino';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

const KEY_LIKE = new RegExp(KEY_SCANNER_PATTERN, 'g');
export const REDACTED = '[REDACTED-KEY]';

/** Replaces key-shaped substrings in every string of a log record (objects and arrays, bounded depth). */
export function scrubKeys(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(KEY_LIKE, REDACTED);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubKeys(v, depth + 1));
  if (value instanceof Error) return { type: value.name, message: scrubKeys(value.message, depth + 1) };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubKeys(v, depth + 1);
  return out;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Default stdout; tests pass a stream to read what was written. */
  destination?: DestinationStream;
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'nemokeys-operator',
      level: opts.level ?? 'info',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => scrubKeys(obj) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          // The message string is not covered by formatters.log.
          method.apply(
            this,
            args.map((a) => (typeof a === 'string' ? a.replace(KEY_LIKE, REDACTED) : a)) as Parameters<typeof method>,
          );
        },
      },
    },
    opts.destination,
  );
}

export type AuditAction = 'create' | 'rotate' | 'revoke' | 'expire' | 'handoff' | 'delete';

/**
 * One audit record. Identifiers only: `keyId` must be a key id (16 chars of the key alphabet), never a
 * key; `apiKey` is `namespace/name`. There is deliberately no field that could carry key material.
 */
export interface AuditRecord {
  action: AuditAction;
  apiKey: `${string}/${string}`;
  keyId: string;
  /** Who caused it: `operator`, `user:<name>` from managedFields, `schedule`, … */
  actor: string;
  reason?: string;
  /** For rotate/handoff: the other key id of the pair. */
  relatedKeyId?: string;
  /** The ApiKey's uid when the caller has it (its trail is owned by it): saves the trail writer a read. */
  uid?: string;
}

export type Audit = (record: AuditRecord) => void;

/** Audit records go to their own logger with `stream: "audit"`, one JSON line per action. */
export function createAudit(opts: { destination?: DestinationStream } = {}): Audit {
  const logger = pino(
    {
      name: 'nemokeys-operator',
      base: { stream: 'audit' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination,
  );
  return (r) => {
    const record: Record<string, unknown> = {
      action: r.action,
      apiKey: String(r.apiKey),
      keyId: isKeyId(r.keyId) ? r.keyId : '[invalid-key-id]',
      actor: String(r.actor),
    };
    if (r.reason !== undefined) record.reason = String(r.reason).slice(0, 512);
    if (r.relatedKeyId !== undefined)
      record.relatedKeyId = isKeyId(r.relatedKeyId) ? r.relatedKeyId : '[invalid-key-id]';
    logger.info(scrubKeys(record) as Record<string, unknown>, `apikey ${r.action}`);
  };
}
