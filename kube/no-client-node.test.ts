// The operator and gateway processes must not load @kubernetes/client-node (docs/design.md §7.1: its
// generated API alone is ~70 MiB of RSS). A static import anywhere on their paths would bring it back
// silently, so this loads what `nemokeys operator` / `nemokeys gateway` load, in a fresh Node process, and
// lists every module that resolved into client-node, with who imported it.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function clientNodeImports(modules: string[]): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = [];
    registerHooks({ resolve(spec, ctx, next) {
      const r = next(spec, ctx);
      if (r.url.includes('/@kubernetes/client-node/') && !ctx.parentURL?.includes('/@kubernetes/client-node/')) {
        seen.push(ctx.parentURL + ' imports ' + spec);
      }
      return r;
    } });
    for (const m of ${JSON.stringify(modules)}) await import(new URL(m, ${JSON.stringify(`file://${root}`)}).href);
    console.log(JSON.stringify(seen));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as string[];
}

describe('processes that must stay lean', () => {
  it('the CLI entry, the operator with its controllers and the gateway load no client-node module', () => {
    const modules = ['cli/main.ts', 'operator/main.ts', 'operator/controllers.ts', 'gateway/main.ts'];
    expect(clientNodeImports(modules)).toEqual([]);
  });

  it('detects one when it is there (the CLI keys commands use client-node)', () => {
    expect(clientNodeImports(['cli/keys/client.ts']).length).toBeGreaterThan(0);
  });
});
