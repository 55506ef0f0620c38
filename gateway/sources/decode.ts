import { decodeRecordText } from '../../api/record-secret.ts';
import type { KeyRecord } from '../../api/record.ts';

// The directory source's decoding: one record per `*.json` file. Record Secrets are decoded by the one
// codec in api/record-secret.ts (the operator encodes with it). Pure: the source decides what to log.
// Error texts name the file, never its content (a hand-made broken file might hold anything).

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
    const parsed = decodeRecordText(f.text);
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
