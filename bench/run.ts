// `npm run bench [-- name ...]`: runs the benchmarks one after another, each in its own Node 24 process
// (so one's heap, timers and children cannot skew the next). Names: gateway, operator, revocation;
// default all. Settings go through each benchmark's own env (see bench/README.md); the operator
// benchmark's N comes from OPERATOR_N (default 1000).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { NODE_24, REPO } from './operator-process.ts';

const BENCHES: Record<string, string[]> = {
  gateway: ['gateway.ts'],
  operator: ['operator.ts', process.env.OPERATOR_N ?? '1000'],
  revocation: ['revocation.ts'],
};

const names = process.argv.slice(2);
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}\n`);
  process.exit(2);
}
let failed = 0;
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  const [file, ...args] = BENCHES[name]!;
  process.stdout.write(`\n=== ${name} ===\n`);
  const res = spawnSync(NODE_24, [join(REPO, 'bench', file!), ...args], { stdio: 'inherit', cwd: REPO });
  if (res.status !== 0) {
    failed++;
    process.stderr.write(`${name} failed (${res.status ?? res.signal})\n`);
  }
}
process.exit(failed > 0 ? 1 : 0);
