// The chart's memory limit, applied to a benchmarked process the way the kubelet applies it to a Pod: a
// memory cgroup around the process. It matters for more than the OOM kill: Node reads the cgroup's limit
// (process.constrainedMemory()) and V8 sizes its heap from it — under 512 MiB the heap limit is 259 MiB,
// the young generation at most 4 MiB and the old generation grows by at most 1.3× per GC, against a
// 4 GiB limit, a 64 MiB young generation and up to 4× on an unconstrained host. Memory measured without
// the limit is not what a cluster sees.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { quantityBytes } from '../image/pod.ts';

export interface MemoryCgroup {
  readonly dir: string;
  readonly limitBytes: number;
  /** `cmd args` as a command that first moves itself into the cgroup, then execs (same pid). */
  wrap(cmd: string, args: string[]): [string, string[]];
  /** Removes the cgroup (once its processes have exited). */
  remove(): void;
}

/** This process's memory cgroup directory (v1 or v2), if the hierarchy is mounted where we look. */
function ownMemoryCgroup(): { dir: string; limitFile: string } | undefined {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const v1 = lines.map((l) => l.split(':')).find(([, controllers]) => controllers?.split(',').includes('memory'));
  if (v1?.[2] !== undefined) return { dir: join('/sys/fs/cgroup/memory', v1[2]), limitFile: 'memory.limit_in_bytes' };
  const v2 = lines.map((l) => l.split(':')).find(([id, controllers]) => id === '0' && controllers === '');
  if (v2?.[2] !== undefined) return { dir: join('/sys/fs/cgroup', v2[2]), limitFile: 'memory.max' };
  return undefined;
}

/**
 * A new memory cgroup limited to `limitBytes`, or the reason it cannot be made here (no memory
 * controller, not writable): the caller says so and measures without it.
 */
export function memoryCgroup(name: string, limitBytes: number): MemoryCgroup | string {
  const own = ownMemoryCgroup();
  if (!own || !existsSync(own.dir)) return 'no memory cgroup hierarchy found under /sys/fs/cgroup';
  const dir = join(own.dir, `nemokeys-bench-${name}-${process.pid}`);
  removeLeftovers(own.dir);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, own.limitFile), String(limitBytes));
  } catch (err) {
    return `cannot create a memory cgroup at ${dir}: ${(err as Error).message}`;
  }
  return {
    dir,
    limitBytes,
    wrap: (cmd, args) => ['/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, cmd, ...args]],
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        /* a process still in it: the kernel frees the cgroup with its last process */
      }
    },
  };
}

/** Cgroups of benchmark runs that were killed before they removed theirs (their pid is gone). */
function removeLeftovers(parent: string): void {
  for (const entry of readdirSync(parent)) {
    const pid = /^nemokeys-bench-.+-(\d+)$/.exec(entry)?.[1];
    if (!pid || existsSync(`/proc/${pid}`)) continue;
    try {
      rmdirSync(join(parent, entry));
    } catch {
      /* still has processes: left for the kernel */
    }
  }
}

/** `cmd args`, run inside `cgroup` when there is one. */
export const inCgroup = (cgroup: MemoryCgroup | undefined, cmd: string, args: string[]): [string, string[]] =>
  cgroup ? cgroup.wrap(cmd, args) : [cmd, args];

/**
 * The chart's memory limit of `component` (charts/nemokeys/values.yaml) as a cgroup, as in a Pod; says
 * which, and says loudly when it runs without (MEMORY_LIMITS=none, or no writable memory cgroup here).
 */
export function chartMemoryCgroup(
  component: 'operator' | 'gateway',
  say: (line: string) => void,
  name: string = component,
) {
  const values = parse(readFileSync(resolve(import.meta.dirname, '../charts/nemokeys/values.yaml'), 'utf8')) as Record<
    string,
    { resources?: { limits?: { memory?: string } } }
  >;
  const limit = values[component]?.resources?.limits?.memory;
  if (process.env.MEMORY_LIMITS === 'none' || !limit) {
    say(`WARNING: ${component} runs without a memory limit (MEMORY_LIMITS=none): not what a Pod sees`);
    return undefined;
  }
  const cgroup = memoryCgroup(name, quantityBytes(limit));
  if (typeof cgroup === 'string') {
    say(
      `WARNING: ${component} runs WITHOUT the chart's ${limit} memory limit (${cgroup}): V8 sizes its heap differently`,
    );
    return undefined;
  }
  say(`${name} runs in a memory cgroup of ${limit} (the chart's ${component} limit), as in a Pod`);
  return cgroup;
}
