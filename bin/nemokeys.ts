#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
// Entry point for `nemokeys` and `kubectl-nemokeys` (kubectl's plugin mechanism runs the latter).
import { main } from '../cli/main.ts';

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`nemokeys: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
