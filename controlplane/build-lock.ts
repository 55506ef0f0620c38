// One build per version at a time across processes: parallel test runs (or `nemokeys dev` beside
// `npm test`) wait for the build in progress instead of compiling kube-apiserver again next to it.
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding DIR/.build.lock; a lock whose holder died is taken over. */
export async function withBuildLock<T>(dir: string, log: (l: string) => void, fn: () => Promise<T>): Promise<T> {
  const path = join(dir, '.build.lock');
  let announced = false;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(await readFile(path, 'utf8').catch(() => '0'));
      if (!holder || !alive(holder)) {
        await rm(path, { force: true });
        continue;
      }
      if (!announced) log(`another process (pid ${holder}) is building these binaries; waiting for it`);
      announced = true;
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
