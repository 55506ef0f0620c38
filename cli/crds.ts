import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { crdFiles, crdYaml } from '../api/crd.ts';

export const CRDS_DIR = resolve(import.meta.dirname, '..', 'crds');

export async function writeCrds(dir = CRDS_DIR): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of Object.entries(crdFiles())) {
    await writeFile(join(dir, name), text);
    written.push(join(dir, name));
  }
  return written;
}

export function registerCrds(program: Command): void {
  program
    .command('crds')
    .description('print the CustomResourceDefinitions generated from the schemas in api/')
    .option('--write [dir]', "write one file per CRD (default: the repo's crds/ folder) instead of printing")
    .action(async (opts: { write?: string | boolean }) => {
      if (opts.write) {
        const files = await writeCrds(typeof opts.write === 'string' ? resolve(opts.write) : CRDS_DIR);
        for (const f of files) process.stdout.write(`wrote ${f}\n`);
      } else {
        process.stdout.write(crdYaml());
      }
    });
}
