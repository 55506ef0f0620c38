import { mkdtempSync, rmSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KeyRecord } from '../../api/record.ts';
import { RecordStore } from '../records/store.ts';
import { startDirectorySource, type DirectorySource } from './directory.ts';
import type { SourceLogger } from './log.ts';
import { makeKeyAndRecord } from './testing.ts';

function recorder() {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  const logger: SourceLogger = { info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines, text: () => JSON.stringify(lines) };
}

/** Written like a careful tool would: temp file + rename, so the reader never sees half a file. */
function writeRecord(dir: string, file: string, record: KeyRecord | string) {
  const tmp = join(dir, `.${file}.tmp`);
  writeFileSync(tmp, typeof record === 'string' ? record : JSON.stringify(record));
  renameSync(tmp, join(dir, file));
}

describe('directory source', () => {
  let dir: string;
  let source: DirectorySource | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nemokeys-records-'));
  });
  afterEach(() => {
    source?.stop();
    source = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads every record at start and marks the store synced (an empty directory is a valid, synced state)', async () => {
    const empty = new RecordStore();
    source = await startDirectorySource({ dir, store: empty });
    expect(empty.synced).toBe(true);
    expect(empty.size).toBe(0);
    source.stop();

    const a = makeKeyAndRecord().record;
    const b = makeKeyAndRecord().record;
    writeRecord(dir, 'a.json', a);
    writeRecord(dir, 'b.json', b);
    const store = new RecordStore();
    source = await startDirectorySource({ dir, store });
    expect(store.synced).toBe(true);
    expect(store.get(a.keyId)).toEqual(a);
    expect(store.get(b.keyId)).toEqual(b);
  });

  it('hot-reloads additions, changes and deletions via fs.watch', async () => {
    const store = new RecordStore();
    source = await startDirectorySource({ dir, store, debounceMs: 20, rescanMs: 3_600_000 });
    const a = makeKeyAndRecord().record;
    writeRecord(dir, 'a.json', a);
    await vi.waitFor(() => expect(store.get(a.keyId)).toEqual(a), { timeout: 3000, interval: 10 });
    writeRecord(dir, 'a.json', { ...a, state: 'Revoked' });
    await vi.waitFor(() => expect(store.get(a.keyId)?.state).toBe('Revoked'), { timeout: 3000, interval: 10 });
    unlinkSync(join(dir, 'a.json'));
    await vi.waitFor(() => expect(store.get(a.keyId)).toBeUndefined(), { timeout: 3000, interval: 10 });
    expect(store.synced).toBe(true);
  });

  it('the periodic rescan catches changes fs.watch never reported', async () => {
    const store = new RecordStore();
    // A debounce longer than the test: only the rescan can pick the file up.
    source = await startDirectorySource({ dir, store, debounceMs: 3_600_000, rescanMs: 30 });
    const a = makeKeyAndRecord().record;
    writeRecord(dir, 'a.json', a);
    await vi.waitFor(() => expect(store.get(a.keyId)).toEqual(a), { timeout: 3000, interval: 10 });
  });

  it('reports a broken file once, skips it, and keeps serving the others', async () => {
    const log = recorder();
    const { key, record: a } = makeKeyAndRecord();
    writeRecord(dir, 'a.json', a);
    writeRecord(dir, 'broken.json', `{"keyId": "${key}"`);
    const store = new RecordStore();
    source = await startDirectorySource({ dir, store, logger: log.logger, debounceMs: 3_600_000, rescanMs: 3_600_000 });
    expect(store.size).toBe(1);
    expect(store.get(a.keyId)).toEqual(a);
    const warnings = () => log.lines.filter((l) => l.level === 'warn' && l.msg.includes('broken.json'));
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]?.msg).toMatch(/not valid JSON/);
    await source.reload();
    await source.reload();
    expect(warnings()).toHaveLength(1);
    // Fixed, then broken again: reported again.
    const b = makeKeyAndRecord().record;
    writeRecord(dir, 'broken.json', b);
    await source.reload();
    expect(store.get(b.keyId)).toEqual(b);
    writeRecord(dir, 'broken.json', '[]');
    await source.reload();
    expect(warnings()).toHaveLength(2);
    expect(store.get(b.keyId)).toBeUndefined();
    expect(log.text()).not.toContain(key.slice(8));
  });

  it('swaps the store once per reload, however many files changed', async () => {
    const store = new RecordStore();
    source = await startDirectorySource({ dir, store, debounceMs: 3_600_000, rescanMs: 3_600_000 });
    const snapshots: number[] = [];
    store.onChange((s) => snapshots.push(s.size));
    for (let i = 0; i < 50; i++) writeRecord(dir, `k${i}.json`, makeKeyAndRecord().record);
    await source.reload();
    expect(snapshots).toEqual([50]);
  });

  it('keeps the last good records when the directory becomes unreadable', async () => {
    const log = recorder();
    const a = makeKeyAndRecord().record;
    writeRecord(dir, 'a.json', a);
    const store = new RecordStore();
    source = await startDirectorySource({ dir, store, logger: log.logger, debounceMs: 3_600_000, rescanMs: 3_600_000 });
    rmSync(dir, { recursive: true, force: true });
    await source.reload();
    expect(store.get(a.keyId)).toEqual(a);
    expect(store.synced).toBe(true);
    expect(log.lines.some((l) => l.level === 'error' && l.msg.includes('keeping the last loaded records'))).toBe(true);
  });

  it('fails at start with the path when the directory does not exist', async () => {
    const store = new RecordStore();
    await expect(startDirectorySource({ dir: join(dir, 'missing'), store })).rejects.toThrow(
      /--records-dir .*missing: ENOENT/,
    );
    expect(store.synced).toBe(false);
  });
});
