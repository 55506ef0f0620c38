import { decodeRecordText } from '../../api/record-secret.ts';
import type { KeyRecord } from '../../api/record.ts';
import { shareRecordParts } from '../records/shared-parts.ts';
import { mergeClaims } from '../records/store.ts';

// The directory source's decoding: one record per `*.json` file. Record Secrets are decoded by the one
// codec in api/record-secret.ts (the operator encodes with it). Pure: the source decides what to log.
// Error texts name the file, never its content (a hand-made broken file might hold anything).

/** A file's text, or why it could not be read. */
export type RecordFile = { name: string; text: string; readError?: string };
export type DirectoryLoad = { records: KeyRecord[]; errors: string[] };

/**
 * One record per `*.json` file, every one passed on: the store refuses a key id that two files claim with
 * different records (docs/design.md §4), so a stale copy cannot outlive the file that revokes the key and
 * a planted file cannot shadow a real one. Files are taken in name order so reports read the same way.
 */
export function decodeRecordFiles(files: readonly RecordFile[]): DirectoryLoad {
  const firstFile = new Map<string, { record: KeyRecord; file: string }>();
  const records: KeyRecord[] = [];
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
    const { keyId } = parsed.record;
    const first = firstFile.get(keyId);
    if (first === undefined) firstFile.set(keyId, { record: parsed.record, file: f.name });
    else if (mergeClaims(first.record, parsed.record) === parsed.record) {
      errors.push(`${f.name}: key id ${keyId} is also defined by ${first.file} (the same record; remove one)`);
    } else {
      errors.push(
        `${f.name}: key id ${keyId} is also defined by ${first.file} with a different record; ` +
          'the key is refused until only one file defines it',
      );
    }
    records.push(shareRecordParts(parsed.record));
  }
  return { records, errors };
}
