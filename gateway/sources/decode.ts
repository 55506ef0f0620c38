import type { KubernetesObject } from '@kubernetes/client-node';
import { RECORD_DATA_KEY } from '../../api/constants.ts';
import { KEY_SCANNER_PATTERN } from '../../api/keyformat.ts';
import { parseKeyRecord, type KeyRecord } from '../../api/record.ts';

// Turning stored bytes into KeyRecords, shared by the Kubernetes and the directory source. Pure: the
// sources decide what to log. Error texts name the object or file, never its content (a record holds
// only a hash, but a hand-made broken file might hold anything).

export type Decoded = { ok: true; record: KeyRecord } | { ok: false; error: string };

const KEY_LIKE = new RegExp(KEY_SCANNER_PATTERN, 'g');

/**
 * parseKeyRecord's errors may quote the input (V8's JSON errors show a snippet, zod names unknown
 * properties). Keep the position, drop the snippet, and redact anything shaped like a key.
 */
function parse(text: string): Decoded {
  const parsed = parseKeyRecord(text);
  if (parsed.ok) return parsed;
  if (parsed.error.startsWith('record is not JSON')) {
    const where = /at position \d+(?: \(line \d+ column \d+\))?/.exec(parsed.error)?.[0];
    return { ok: false, error: `record is not valid JSON${where ? ` (${where})` : ''}` };
  }
  return { ok: false, error: parsed.error.replace(KEY_LIKE, '[redacted key]') };
}

/** The operator names each record Secret after its key id, so a name is unique per key id. */
export const RECORD_SECRET_PREFIX = 'nemokeys-key-';
export function recordSecretName(keyId: string): string {
  return `${RECORD_SECRET_PREFIX}${keyId}`;
}

/** The parts of a Secret the gateway reads (V1Secret is assignable to it). */
export type RecordSecret = KubernetesObject & { data?: Record<string, string> };

export function decodeRecordSecret(secret: RecordSecret): Decoded {
  const name = secret.metadata?.name ?? '';
  const b64 = secret.data?.[RECORD_DATA_KEY];
  if (b64 === undefined) return { ok: false, error: `Secret ${name} has no data["${RECORD_DATA_KEY}"]` };
  const parsed = parse(Buffer.from(b64, 'base64').toString('utf8'));
  if (!parsed.ok) return { ok: false, error: `Secret ${name}: ${parsed.error}` };
  // A record under someone else's name could shadow or, on delete, remove another key id.
  if (name !== recordSecretName(parsed.record.keyId)) {
    return { ok: false, error: `Secret ${name} holds key id ${parsed.record.keyId}; its name must be ${recordSecretName(parsed.record.keyId)}` };
  }
  return parsed;
}

/** A file's text, or why it could not be read. */
export type RecordFile = { name: string; text: string; readError?: string };
export type DirectoryLoad = { records: KeyRecord[]; errors: string[] };

/**
 * One record per `*.json` file. Files are taken in name order so a duplicate key id is resolved the same
 * way every time: the first file wins and the others are reported.
 */
export function decodeRecordFiles(files: readonly RecordFile[]): DirectoryLoad {
  const byKeyId = new Map<string, { record: KeyRecord; file: string }>();
  const errors: string[] = [];
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!f.name.endsWith('.json')) continue;
    if (f.readError !== undefined) {
      errors.push(`${f.name}: cannot read: ${f.readError}`);
      continue;
    }
    const parsed = parse(f.text);
    if (!parsed.ok) {
      errors.push(`${f.name}: ${parsed.error}`);
      continue;
    }
    const first = byKeyId.get(parsed.record.keyId);
    if (first) {
      errors.push(`${f.name}: key id ${parsed.record.keyId} is already defined by ${first.file}; skipped`);
      continue;
    }
    byKeyId.set(parsed.record.keyId, { record: parsed.record, file: f.name });
  }
  return { records: [...byKeyId.values()].map((v) => v.record), errors };
}
