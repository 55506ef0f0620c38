import { describe, expect, it } from 'vitest';
import { RECORD_DATA_KEY } from '../../api/constants.ts';
import { decodeRecordSecret, recordSecretName } from '../../api/record-secret.ts';
import { RecordStore } from '../records/store.ts';
import { decodeRecordFiles } from './decode.ts';
import { makeKeyAndRecord, recordSecretManifest } from './testing.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('decodeRecordSecret', () => {
  const { key, record } = makeKeyAndRecord();
  const good = recordSecretManifest(record, 'ns');
  const cases: Array<[string, Parameters<typeof decodeRecordSecret>[0], RegExp | 'ok']> = [
    ['a well-formed record Secret', good, 'ok'],
    ['no record data key', { ...good, data: {} }, /has no data\["record.json"\]/],
    ['not JSON', { ...good, data: { [RECORD_DATA_KEY]: b64('{"keyId": nope') } }, /not valid JSON/],
    ['JSON but not a record', { ...good, data: { [RECORD_DATA_KEY]: b64('{"keyId":"x"}') } }, /Secret nemokeys-key-/],
    [
      'name does not match key id',
      { ...good, metadata: { ...good.metadata, name: 'nemokeys-key-other' } },
      /its name must be nemokeys-key-/,
    ],
  ];
  it.each(cases)('%s', (_label, secret, expected) => {
    const d = decodeRecordSecret(secret);
    if (expected === 'ok') {
      expect(d).toEqual({ ok: true, record });
    } else {
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.error).toMatch(expected);
    }
  });

  it("a record under another key id's name is refused but reported as a claim on its key id", () => {
    const d = decodeRecordSecret({ ...good, metadata: { ...good.metadata, name: 'nemokeys-key-other' } });
    expect(d).toMatchObject({ ok: false, claim: record });
  });

  it('never quotes a key that was pasted into the data', () => {
    for (const text of [
      `{"keyId": "${key}"`,
      `${key}`,
      JSON.stringify({ ...record, [key]: 1 }),
      JSON.stringify({ ...record, hash: key }),
    ]) {
      const d = decodeRecordSecret({ ...good, data: { [RECORD_DATA_KEY]: b64(text) } });
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.error).not.toContain(key.slice(-20));
    }
  });

  it('names the Secret after the key id', () => {
    expect(recordSecretName('abc')).toBe('nemokeys-key-abc');
  });
});

describe('decodeRecordFiles', () => {
  const a = makeKeyAndRecord().record;
  const b = makeKeyAndRecord().record;
  const json = (r: unknown) => JSON.stringify(r);
  const cases: Array<[string, Array<{ name: string; text: string }>, string[], RegExp[]]> = [
    ['empty directory', [], [], []],
    [
      'two good files',
      [
        { name: 'a.json', text: json(a) },
        { name: 'b.json', text: json(b) },
      ],
      [a.keyId, b.keyId],
      [],
    ],
    [
      'non-json names are ignored',
      [
        { name: 'a.json', text: json(a) },
        { name: 'notes.txt', text: 'hello' },
        { name: 'b.json.swp', text: 'x' },
      ],
      [a.keyId],
      [],
    ],
    [
      'a broken file is reported and skipped',
      [
        { name: 'a.json', text: json(a) },
        { name: 'bad.json', text: '{' },
      ],
      [a.keyId],
      [/^bad\.json: record is not valid JSON/],
    ],
    [
      'an invalid record is reported and skipped',
      [{ name: 'x.json', text: json({ ...b, hash: 'nothex' }) }],
      [],
      [/^x\.json: .*hex SHA-256/],
    ],
    [
      'a duplicate key id with a different record: both passed on (the store refuses the key), reported',
      [
        { name: 'z.json', text: json({ ...a, team: 'z' }) },
        { name: 'm.json', text: json(a) },
      ],
      [a.keyId, a.keyId],
      [/^z\.json: key id .* also defined by m\.json with a different record; the key is refused/],
    ],
    [
      'an identical copy: both passed on, reported as harmless',
      [
        { name: 'copy.json', text: json(a) },
        { name: 'a.json', text: json(a) },
      ],
      [a.keyId, a.keyId],
      [/^copy\.json: key id .* also defined by a\.json \(the same record; remove one\)/],
    ],
  ];
  it.each(cases)('%s', (_label, files, keyIds, errors) => {
    const out = decodeRecordFiles(files);
    expect(out.records.map((r) => r.keyId).sort()).toEqual([...keyIds].sort());
    expect(out.errors).toHaveLength(errors.length);
    for (const [i, re] of errors.entries()) expect(out.errors[i]).toMatch(re);
  });

  it('a stale copy next to the revoking file: the store refuses the key whichever file sorts first', () => {
    const revoked = { ...a, state: 'Revoked' as const };
    for (const [stale, revoking] of [
      ['0-stale.json', 'z-revoked.json'],
      ['z-stale.json', '0-revoked.json'],
    ] as const) {
      const store = new RecordStore();
      store.replaceAll(
        decodeRecordFiles([
          { name: stale, text: json(a) },
          { name: revoking, text: json(revoked) },
        ]).records,
      );
      expect(store.get(a.keyId)?.state).toBe('Revoked');
      expect(store.conflicts).toBe(1);
    }
  });
});

describe('decodeRecordFiles read errors', () => {
  it('reports a file that could not be read', () => {
    const out = decodeRecordFiles([{ name: 'a.json', text: '', readError: 'EACCES: permission denied' }]);
    expect(out).toEqual({ records: [], errors: ['a.json: cannot read: EACCES: permission denied'] });
  });
});
