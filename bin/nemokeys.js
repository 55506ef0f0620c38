#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
// Entry point for `nemokeys` and `kubectl-nemokeys` (kubectl's plugin mechanism runs the latter).
// Plain JavaScript on purpose: Node strips the types of every .ts file it loads with amaro (swc compiled
// to wasm), which costs ~17 MiB of RSS for the life of the process. Node's compile cache keeps the
// stripped output (and V8's code cache), so with a warm cache amaro is never loaded — but the cache must
// be on before the first .ts file is compiled, which is why this file is not one (docs/design.md §7.1).
// Cache directory: NODE_COMPILE_CACHE (the image ships one warmed at build time), else the OS temp dir.
import { enableCompileCache } from 'node:module';

enableCompileCache();
const { main } = await import('../cli/main.ts');

main(process.argv).catch((err) => {
  process.stderr.write(`nemokeys: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
