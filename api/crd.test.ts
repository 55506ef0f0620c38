import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CRDS_DIR } from '../cli/crds.ts';
import { apiKeyCrd, crdFiles, toStructuralSchema } from './crd.ts';

describe('CRD generation', () => {
  it('crds/ is up to date with the schemas (run `npm run crds` to regenerate)', async () => {
    for (const [name, text] of Object.entries(crdFiles())) {
      const onDisk = await readFile(join(CRDS_DIR, name), 'utf8').catch(() => '(missing)');
      expect(onDisk, `crds/${name} is stale: run npm run crds`).toBe(text);
    }
  });

  it('prints the columns kubectl get apikeys needs', () => {
    const version = (apiKeyCrd().spec as { versions: { additionalPrinterColumns: { name: string }[] }[] }).versions[0]!;
    expect(version.additionalPrinterColumns.map((c) => c.name)).toEqual(
      expect.arrayContaining(['Team', 'Ready', 'Key ID', 'Expires', 'Last Used', 'Requests', 'Age']),
    );
  });

  it('never emits additionalProperties beside properties', () => {
    const text = JSON.stringify(apiKeyCrd());
    expect(text).not.toContain('"additionalProperties":false');
    expect(text).not.toContain('$ref');
  });

  it('rejects constructs the API server would refuse', () => {
    expect(() =>
      toStructuralSchema(
        z.object({
          a: z
            .string()
            .regex(/^(?!x)/)
            .max(3),
        }),
      ),
    ).toThrow(/lookaround/);
    expect(() => toStructuralSchema(z.object({ a: z.string() }))).toThrow(/maxLength/);
    expect(() => toStructuralSchema(z.object({ a: z.array(z.string().max(1)) }))).toThrow(/maxItems/);
    expect(() => toStructuralSchema(z.object({ a: z.union([z.string().max(1), z.number()]) }))).toThrow(/anyOf/);
  });
});
