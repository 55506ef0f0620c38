// Fills Node's compile cache (bin/nemokeys.js) with every module the CLI, operator and gateway can load,
// so no process ever needs the TypeScript stripper later. Run as the user that will read the cache (its
// directory is per uid): the image build does it as uid 1000; bench/ does it before measuring memory.
//   NODE_COMPILE_CACHE=DIR node bin/warm-compile-cache.js
import { readdirSync } from 'node:fs';
import { enableCompileCache, flushCompileCache } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
const folders = ['api', 'kube', 'operator', 'gateway', 'cli', 'ui'];
const isProduct = (name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.startsWith('testing');

function* modules(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // a folder the image does not ship (ui/ is optional)
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* modules(path);
    else if (isProduct(e.name)) yield path;
  }
}

const status = enableCompileCache();
let loaded = 0;
for (const folder of folders) {
  for (const path of modules(join(root, folder))) {
    try {
      await import(pathToFileURL(path).href);
      loaded++;
    } catch (err) {
      // A module that needs what this image lacks (e.g. a dev dependency) is not one the product loads.
      process.stderr.write(`skipped ${relative(root, path)}: ${err instanceof Error ? err.message : err}\n`);
    }
  }
}
flushCompileCache();
process.stdout.write(`compile cache ${status.directory ?? '(off)'}: ${loaded} modules\n`);
process.exit(0);
