import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import {
  KEY_ID_PATTERN,
  KEY_SCANNER_PATTERN,
  MAX_KEY_LENGTH,
  MIN_KEY_LENGTH,
  generateKey,
  generateKeyId,
  hashKey,
  isKeyId,
  keyHint,
  parseKey,
  verifyKey,
} from './keyformat.ts';
import type { Environment } from './keyformat.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz';
const ENVS: (Environment | undefined)[] = ['dev', 'stage', 'prod', undefined];
const scanner = new RegExp(`^${KEY_SCANNER_PATTERN}$`);
const keyIdRe = new RegExp(KEY_ID_PATTERN);

/** Deterministic byte source (xorshift32) so statistical tests are reproducible. */
function seeded(seed: number): (n: number) => Buffer {
  let x = seed >>> 0 || 1;
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[i] = x >>> 24;
    }
    return b;
  };
}
const arbKey = fc
  .record({ env: fc.constantFrom(...ENVS), seed: fc.integer() })
  .map(({ env, seed }) => generateKey({ environment: env, random: seeded(seed) }).key);
const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));

describe('generateKey / parseKey round trip', () => {
  it('generated keys parse, match the scanner regex, and carry id/env/hint/hash', () => {
    for (const environment of ENVS) {
      for (let i = 0; i < 200; i++) {
        const g = generateKey({ environment });
        expect(g.key).toMatch(scanner);
        expect(g.key.startsWith(`nr_${environment ?? 'key'}_${g.keyId}_`)).toBe(true);
        expect(parseKey(g.key)).toEqual({ ok: true, keyId: g.keyId, environment });
        expect(g.hint).toBe(g.key.slice(-4));
        expect(keyHint(g.key)).toBe(g.hint);
        expect(g.hash).toBe(hashKey(g.key));
        expect(g.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(g.key.length).toBeGreaterThanOrEqual(MIN_KEY_LENGTH);
        expect(g.key.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
      }
    }
  });

  it('checksum is base62 CRC32 of the prefix, left-padded with 0', () => {
    fc.assert(
      fc.property(arbKey, (key) => {
        const body = key.slice(0, -6);
        let v = BigInt(crc32(body)),
          enc = '';
        while (v > 0n) {
          enc = BASE62[Number(v % 62n)] + enc;
          v /= 62n;
        }
        expect(key.slice(-6)).toBe(enc.padStart(6, '0'));
      }),
    );
  });

  it('rejects an invalid environment at generation time', () => {
    expect(() => generateKey({ environment: 'test' as Environment })).toThrow(TypeError);
  });
});

describe('parseKey rejects damaged keys before any lookup', () => {
  it('every single-character substitution (printable ASCII, exhaustive)', () => {
    for (const environment of ENVS) {
      const { key } = generateKey({ environment });
      for (let i = 0; i < key.length; i++) {
        for (const c of printable) {
          if (c === key[i]) continue;
          expect(parseKey(key.slice(0, i) + c + key.slice(i + 1)).ok).toBe(false);
        }
      }
    }
  });

  it('any single-character substitution with arbitrary unicode', () => {
    fc.assert(
      fc.property(arbKey, fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), (key, p, c) => {
        const i = p % key.length;
        fc.pre(c !== key[i]);
        expect(parseKey(key.slice(0, i) + c + key.slice(i + 1)).ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('any truncation, deletion, or extra character', () => {
    fc.assert(
      fc.property(arbKey, fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }), (key, p, extra) => {
        const i = p % (key.length + 1);
        expect(parseKey(key.slice(0, Math.min(i, key.length - 1))).ok).toBe(false);
        expect(parseKey(key.slice(i)).ok).toBe(i === 0);
        if (i < key.length) expect(parseKey(key.slice(0, i) + key.slice(i + 1)).ok).toBe(false);
        expect(parseKey(key.slice(0, i) + extra + key.slice(i)).ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('wrong prefix or environment', () => {
    const { key } = generateKey({ environment: 'prod' });
    const rest = key.slice('nr_prod_'.length);
    for (const prefix of [
      'NR_prod_',
      'nx_prod_',
      'nr-prod_',
      'nr_PROD_',
      'nr_prox_',
      'nr_test_',
      'nr__',
      'nrprod_',
      'nr_prod',
      'nr_dev_',
      'nr_stage_',
      'nr_key_',
      'sk_prod_',
    ]) {
      expect(parseKey(prefix + rest).ok).toBe(false);
    }
    // re-labelling a key's environment (same length) is caught by the checksum
    const dev = generateKey({ environment: 'dev' }).key;
    expect(parseKey(`nr_key_${dev.slice('nr_dev_'.length)}`)).toEqual({ ok: false, reason: 'checksum' });
  });

  it('swapped case, whole key or any single letter', () => {
    fc.assert(
      fc.property(arbKey, (key) => {
        const swap = (c: string) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase());
        expect(parseKey(key.toUpperCase()).ok).toBe(false);
        expect(parseKey(key.toLowerCase()).ok).toBe(key === key.toLowerCase());
        expect(parseKey([...key].map(swap).join('')).ok).toBe(false);
        for (let i = 0; i < key.length; i++) {
          const c = key.charAt(i);
          if (swap(c) !== c) expect(parseKey(key.slice(0, i) + swap(c) + key.slice(i + 1)).ok).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('no checksum collision silently accepted in 10k random well-formed mutations', () => {
    const mutation = fc.record({
      key: arbKey,
      edits: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 8 }),
    });
    fc.assert(
      fc.property(mutation, ({ key, edits }) => {
        const idStart = key.indexOf('_', 3) + 1;
        const chars = [...key];
        for (const [p, r] of edits) {
          const i = idStart + (p % (key.length - idStart));
          if (i === idStart + 16) continue; // keep the separator
          const alphabet = i < idStart + 16 ? BASE32 : BASE62; // stay well-formed: only the checksum can object
          chars[i] = alphabet.charAt(r % alphabet.length);
        }
        const mutated = chars.join('');
        if (mutated !== key) expect(parseKey(mutated)).toEqual({ ok: false, reason: 'checksum' });
      }),
      { numRuns: 10_000, seed: 0x5eed },
    );
  });

  it('reasons: missing / malformed / checksum; never throws, never echoes input', () => {
    expect(parseKey('')).toEqual({ ok: false, reason: 'missing' });
    expect(parseKey(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(parseKey(null)).toEqual({ ok: false, reason: 'missing' });
    expect(parseKey(42 as unknown as string)).toEqual({ ok: false, reason: 'missing' });
    expect(parseKey('Bearer xyz')).toEqual({ ok: false, reason: 'malformed' });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 80 }),
          arbKey.map((k) => `${k.slice(0, -1)}x`),
        ),
        (s) => {
          const r = parseKey(s);
          if (!r.ok) expect(Object.keys(r).sort()).toEqual(['ok', 'reason']);
          else expect(JSON.stringify(r)).not.toContain(s.slice(-38));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('huge strings (1MB) are rejected as malformed quickly', () => {
    const huge = generateKey({}).key + 'a'.repeat(1 << 20);
    const nonAscii = `nr_dev_${'é'.repeat(55)}`;
    expect(parseKey(huge)).toEqual({ ok: false, reason: 'malformed' });
    expect(parseKey(nonAscii)).toEqual({ ok: false, reason: 'malformed' });
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) parseKey(huge);
    expect(performance.now() - t0).toBeLessThan(200);
  });
});

describe('verifyKey / hashKey', () => {
  it('true for the right hash (any hex case), false for wrong or malformed hashes', () => {
    const { key, hash } = generateKey({ environment: 'dev' });
    const other = generateKey({ environment: 'dev' });
    expect(verifyKey(key, hash)).toBe(true);
    expect(verifyKey(key, hash.toUpperCase())).toBe(true);
    expect(verifyKey(other.key, hash)).toBe(false);
    expect(verifyKey(key, other.hash)).toBe(false);
    const flipped = hash.slice(0, -1) + (hash.endsWith('0') ? '1' : '0');
    for (const bad of [
      '',
      'zz',
      hash.slice(0, 63),
      `${hash}0`,
      `${hash.slice(0, 62)}zz`,
      `${hash.slice(0, 63)}\u0010`,
      `${hash.slice(0, 63)}é`,
      ' '.repeat(64),
      flipped,
      Buffer.from(hash, 'hex').toString('base64'),
    ]) {
      expect(verifyKey(key, bad)).toBe(false);
    }
    expect(verifyKey(key, undefined as unknown as string)).toBe(false);
    expect(verifyKey(undefined as unknown as string, hash)).toBe(false);
    expect(verifyKey(key + 'a'.repeat(1 << 20), hash)).toBe(false);
  });
});

describe('key ids', () => {
  it('are unique across 10k generations and all match KEY_ID_PATTERN', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = generateKeyId();
      expect(keyIdRe.test(id) && isKeyId(id)).toBe(true);
      ids.add(id);
    }
    expect(ids.size).toBe(10_000);
  });

  it('isKeyId / KEY_ID_PATTERN agree and reject non-Crockford chars', () => {
    expect(generateKeyId(() => Buffer.alloc(10))).toBe('0'.repeat(16));
    expect(generateKeyId(() => Buffer.alloc(10, 0xff))).toBe('z'.repeat(16));
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', minLength: 15, maxLength: 17 }), (s) => {
        expect(isKeyId(s)).toBe(keyIdRe.test(s));
      }),
    );
    for (const bad of [
      '0123456789abcdei',
      '0123456789abcdel',
      '0123456789abcdeo',
      '0123456789abcdeu',
      '0123456789ABCDEF',
    ]) {
      expect(isKeyId(bad)).toBe(false);
    }
    expect(() => generateKeyId(() => Buffer.alloc(9))).toThrow();
  });
});

describe('secret randomness', () => {
  it('rejection sampling: bytes >= 248 are skipped, not folded (no modulo bias)', () => {
    const bytes = [...Buffer.alloc(10), 248, 255, 250, 0, 61, 62, 247];
    let pos = 0;
    const random = (n: number) => Buffer.from(Array.from({ length: n }, () => bytes[pos++] ?? 1));
    const { key } = generateKey({ environment: 'dev', random });
    expect(key.slice(24, 28)).toBe('0z0z'); // 0→'0', 61→'z', 62→'0', 247→'z' (247 % 62 = 61)
  });

  it('secret chars are uniform over base62 (chi-square, fixed seed)', () => {
    const random = seeded(0xc0ffee);
    const counts = new Map<string, number>();
    const N = 2000;
    for (let i = 0; i < N; i++) {
      for (const c of generateKey({ random }).key.slice(24, 56)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    const expected = (N * 32) / 62;
    let chi2 = 0;
    for (const n of counts.values()) chi2 += (n - expected) ** 2 / expected;
    // 61 d.o.f.: mean 61, p(chi2 > 110) ~ 1e-4; naive `byte % 62` gives chi2 ~ 400 at this N
    expect(chi2).toBeLessThan(110);
  });
});
