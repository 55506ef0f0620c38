// What the operator and gateway processes load (docs/design.md §7.1), checked in fresh Node processes:
// - no @kubernetes/client-node module: its generated API alone is ~70 MiB of RSS, and a static import
//   anywhere on their paths would bring it back silently;
// - no TypeScript stripper (amaro: swc as wasm, ~17 MiB) once the compile cache is warm, which is how the
//   image ships (bin/warm-compile-cache.js at build time) and how bench/ measures.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const PROCESS_MODULES = ['cli/main.ts', 'operator/main.ts', 'operator/controllers.ts', 'gateway/main.ts'];

/** Imports `modules` the way bin/nemokeys.js does (compile cache on first); what got loaded. */
function load(modules: string[], env: Record<string, string> = {}): { clientNode: string[]; amaro: boolean } {
  const script = `
    import { enableCompileCache, registerHooks } from 'node:module';
    enableCompileCache();
    const clientNode = [];
    registerHooks({ resolve(spec, ctx, next) {
      const r = next(spec, ctx);
      if (r.url.includes('/@kubernetes/client-node/') && !ctx.parentURL?.includes('/@kubernetes/client-node/')) {
        clientNode.push(ctx.parentURL + ' imports ' + spec);
      }
      return r;
    } });
    for (const m of ${JSON.stringify(modules)}) await import(new URL(m, ${JSON.stringify(`file://${root}`)}).href);
    const amaro = process.moduleLoadList.some((m) => m.includes('amaro'));
    console.log(JSON.stringify({ clientNode, amaro }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { clientNode: string[]; amaro: boolean };
}

describe('processes that must stay lean', () => {
  const cache = mkdtempSync(join(tmpdir(), 'nemokeys-compile-cache-'));
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it('the CLI entry, the operator with its controllers and the gateway load no client-node module', () => {
    expect(load(PROCESS_MODULES).clientNode).toEqual([]);
  });

  it('detects client-node when it is there (the CLI keys commands use it)', () => {
    expect(load(['cli/keys/client.ts']).clientNode.length).toBeGreaterThan(0);
  });

  it('with the compile cache warmed by bin/warm-compile-cache.js, no TypeScript stripper is loaded', () => {
    const env = { NODE_COMPILE_CACHE: cache };
    expect(load(PROCESS_MODULES, env).amaro).toBe(true); // cold: every .ts file is stripped
    execFileSync(process.execPath, [join(root, 'bin', 'warm-compile-cache.js')], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    expect(load(PROCESS_MODULES, env).amaro).toBe(false);
  });
});
