import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

// Child processes for the gateway benchmarks: each target runs in its own process, prints one line
// (its port, usually) when ready, and is measured by the CPU time the kernel charged it.

/** Spawns `cmd args`, remembers it in `children` (for cleanup), resolves with its first stdout line. */
export function startChild(
  cmd: string,
  args: string[],
  children: ChildProcess[],
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve({ child, line: buf.slice(0, nl).trim() });
    });
    child.once('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`)));
  });
}

/** Spawns a script on this Node (24). */
export const startNode = (args: string[], children: ChildProcess[]) => startChild(process.execPath, args, children);

/**
 * CPU seconds (user+system) used so far by a process and its direct children (nginx's worker).
 * CPU per request is what a loaded, shared machine cannot distort the way it distorts latency.
 */
export function cpuSeconds(pid: number): number {
  const ticks = (p: number) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) };
    } catch {
      return { ppid: -1, cpu: 0 };
    }
  };
  let total = ticks(pid).cpu;
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const t = ticks(Number(entry));
    if (t.ppid === pid) total += t.cpu;
  }
  return total / 100; // USER_HZ
}
