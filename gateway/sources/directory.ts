import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordStore } from '../records/store.ts';
import { decodeRecordFiles, type RecordFile } from './decode.ts';
import { errorText, silentLogger, type SourceLogger } from './log.ts';

// `--records-dir DIR`: every `*.json` file is one KeyRecord (the same JSON the operator stores in a
// record Secret). For local development and non-Kubernetes deployments. Changes are picked up by
// fs.watch (debounced, since editors write a file in several steps) and by a periodic rescan, because
// fs.watch misses events on some filesystems (network mounts, some container volumes).
// Each load reads the whole directory and swaps the store once, so a request never sees half a reload.
// Write files atomically (write a temp file, then rename) so a reader never sees a half-written record;
// a file that does not parse is reported and left out — fail closed, its key answers 401. Two files for
// one key id with different records fail closed too (docs/design.md §4).

export interface DirectorySourceOptions {
  dir: string;
  store: RecordStore;
  logger?: SourceLogger;
  debounceMs?: number;
  rescanMs?: number;
}

export interface DirectorySource {
  /** Reads the directory now; resolves once the store holds the result. */
  reload(): Promise<void>;
  stop(): void;
}

async function readRecordFiles(dir: string): Promise<RecordFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  const files = await Promise.all(
    names.map(async (name) => {
      try {
        return { name, text: await readFile(join(dir, name), 'utf8') };
      } catch (err) {
        // Deleted between readdir and readFile: it is simply gone. Anything else is a broken file.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        return { name, text: '', readError: errorText(err) };
      }
    }),
  );
  return files.filter((f): f is RecordFile => f !== undefined);
}

/** Loads the directory once (throws if it cannot be read, so a wrong path fails at startup) and keeps it in sync. */
export async function startDirectorySource(opts: DirectorySourceOptions): Promise<DirectorySource> {
  const { dir, store, logger = silentLogger, debounceMs = 100, rescanMs = 30_000 } = opts;
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  // Report each distinct problem once, not on every rescan.
  let reported = new Set<string>();

  const loadOnce = async () => {
    const { records, errors } = decodeRecordFiles(await readRecordFiles(dir));
    if (stopped) return;
    store.replaceAll(records);
    const now = new Set(errors);
    for (const e of errors) if (!reported.has(e)) logger.warn({ dir }, `record file ${e}`);
    reported = now;
  };

  // Serialised: a change during a load schedules exactly one more load after it.
  const reload = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          try {
            await loadOnce();
          } catch (err) {
            // Keep serving the last good index; the next change or rescan tries again.
            logger.error(
              { dir, err: errorText(err) },
              'cannot read the records directory; keeping the last loaded records',
            );
          }
        } while (again && !stopped);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  await readdir(dir).catch((err: unknown) => {
    throw new Error(`--records-dir ${dir}: ${errorText(err)}`);
  });
  await reload();
  logger.info({ dir, records: store.size }, 'loaded key records from directory');

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), debounceMs);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, schedule);
    watcher.on('error', (err) =>
      logger.warn({ dir, err: errorText(err) }, 'fs.watch failed; relying on the periodic rescan'),
    );
  } catch (err) {
    logger.warn({ dir, err: errorText(err) }, 'fs.watch unavailable; relying on the periodic rescan');
  }
  const rescan = setInterval(() => void reload(), rescanMs);
  rescan.unref();

  return {
    reload,
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(rescan);
      watcher?.close();
    },
  };
}
