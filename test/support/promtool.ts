// promtool (Debian package `prometheus`) checks and unit-tests alert rules with the real PromQL engine.
// Missing promtool: fatal in CI, a loud skip locally (see reportMissingTool).
import { execFileSync } from 'node:child_process';
import { reportMissingTool, runTool, type ToolResult } from './helm.ts';

export function findPromtool(): string | undefined {
  const fromEnv = process.env.NEMOKEYS_PROMTOOL;
  if (fromEnv) return fromEnv;
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function ensurePromtool(): string | undefined {
  return findPromtool() ?? reportMissingTool('promtool', 'not on PATH', 'Install it: apt-get install -y prometheus.');
}

export function promtool(bin: string, args: string[], cwd?: string): Promise<ToolResult> {
  return runTool(bin, args, { cwd });
}
