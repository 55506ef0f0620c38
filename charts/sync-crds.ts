// Copies the generated CRDs (crds/, written by `nemokeys crds --write`) into the chart, which must ship
// identical files: Helm installs charts/nemokeys/crds/ before anything else. test/chart.test.ts fails when
// the two drift. Run: npx node charts/sync-crds.ts
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_CRDS_DIR = resolve(import.meta.dirname, '..', 'crds');
export const CHART_CRDS_DIR = resolve(import.meta.dirname, 'nemokeys', 'crds');

const yamlFiles = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();

/** Makes the chart's crds/ an exact copy of the repo's: copies every file and removes ones that are gone. */
export async function syncCrds(
  from = REPO_CRDS_DIR,
  to = CHART_CRDS_DIR,
): Promise<{ copied: string[]; removed: string[] }> {
  await mkdir(to, { recursive: true });
  const source = await yamlFiles(from);
  const removed = (await yamlFiles(to)).filter((f) => !source.includes(f));
  for (const f of removed) await rm(join(to, f));
  for (const f of source) await copyFile(join(from, f), join(to, f));
  return { copied: source, removed };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { copied, removed } = await syncCrds();
  for (const f of copied) process.stdout.write(`copied ${f}\n`);
  for (const f of removed) process.stdout.write(`removed ${f}\n`);
}
