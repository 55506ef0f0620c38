// API key format (docs/design.md §3): `nr_<env>_<keyid>_<secret><checksum>`
//   env      dev | stage | prod | key (no environment)
//   keyid    16 chars lowercase Crockford base32 (80 random bits), DNS-label-safe
//   secret   32 base62 chars (~190.5 bits, rejection-sampled from crypto.randomBytes)
//   checksum 6 base62 chars: CRC32 of everything before it, left-padded with '0'
// Only hashKey(key) is ever stored. parseKey is on the gateway hot path: no regex, no throw.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

export type Environment = 'dev' | 'stage' | 'prod';
export type ParseFailure = 'missing' | 'malformed' | 'checksum';
export type ParseResult =
  | { readonly ok: true; readonly keyId: string; readonly environment: Environment | undefined }
  | { readonly ok: false; readonly reason: ParseFailure };
export type RandomSource = (n: number) => Buffer;
export interface GeneratedKey {
  key: string;
  keyId: string;
  /** last 4 chars (part of the checksum): safe to show in UIs/logs */
  hint: string;
  /** hex SHA-256 of the full key: the only thing to store */
  hash: string;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford, lowercase
export const KEY_ID_LENGTH = 16;
export const SECRET_LENGTH = 32;
export const CHECKSUM_LENGTH = 6;
/** Anchored, RE2-compatible (usable as a CRD `pattern`). */
export const KEY_ID_PATTERN = '^[0-9a-hjkmnp-tv-z]{16}$';
/** Unanchored, RE2-compatible pattern for secret scanners (gitleaks, GitHub push protection, ...). */
export const KEY_SCANNER_PATTERN = 'nr_(dev|stage|prod|key)_[0-9a-z]{16}_[0-9A-Za-z]{38}';

const NO_ENV = 'key';
// after the `nr_<env>_` prefix: keyid + '_' + secret + checksum
const BODY_LENGTH = KEY_ID_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH;
const PREFIXES: readonly { prefix: string; environment: Environment | undefined }[] = [
  { prefix: 'nr_prod_', environment: 'prod' },
  { prefix: 'nr_key_', environment: undefined },
  { prefix: 'nr_dev_', environment: 'dev' },
  { prefix: 'nr_stage_', environment: 'stage' },
];
export const MIN_KEY_LENGTH = 'nr_dev_'.length + BODY_LENGTH; // 62
export const MAX_KEY_LENGTH = 'nr_stage_'.length + BODY_LENGTH; // 64

const INVALID = 0xff;
function decodeTable(alphabet: string): Uint8Array {
  const t = new Uint8Array(128).fill(INVALID);
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
}
const B62_VALUE = decodeTable(BASE62);
const B32_VALUE = decodeTable(BASE32);
const UNDERSCORE = 0x5f;

const MISSING: ParseResult = Object.freeze({ ok: false, reason: 'missing' });
const MALFORMED: ParseResult = Object.freeze({ ok: false, reason: 'malformed' });
const BAD_CHECKSUM: ParseResult = Object.freeze({ ok: false, reason: 'checksum' });

/** True iff every char of s[from, to) is in `table` (non-ASCII is rejected). */
function allIn(s: string, from: number, to: number, table: Uint8Array): boolean {
  for (let i = from; i < to; i++) {
    const v = table[s.charCodeAt(i)]; // undefined for code units >= 128
    if (v === undefined || v === INVALID) return false;
  }
  return true;
}

function encodeChecksum(crc: number): string {
  let out = '';
  for (let i = 0, v = crc; i < CHECKSUM_LENGTH; i++, v = Math.floor(v / 62)) out = BASE62.charAt(v % 62) + out;
  return out;
}

function take(random: RandomSource, n: number): Buffer {
  const buf = random(n);
  if (!Buffer.isBuffer(buf) || buf.length < n) throw new Error(`random source returned fewer than ${n} bytes`);
  return buf;
}

/** n base62 chars; bytes >= 248 (= 4*62) are rejected so every char has probability exactly 1/62. */
function randomBase62(n: number, random: RandomSource): string {
  let out = '';
  for (let round = 0; out.length < n; round++) {
    if (round > 64) throw new Error('random source keeps returning rejected bytes');
    const buf = take(random, n - out.length + 4);
    for (let i = 0; i < buf.length && out.length < n; i++) {
      const b = buf[i]!;
      if (b < 248) out += BASE62.charAt(b % 62);
    }
  }
  return out;
}

/** 16 lowercase Crockford base32 chars from 10 random bytes (80 bits, no bias: 32 divides 256). */
export function generateKeyId(random: RandomSource = randomBytes): string {
  const buf = take(random, 10);
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | buf[i]!;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32.charAt((acc >>> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

export function generateKey(opts: { environment?: Environment; random?: RandomSource } = {}): GeneratedKey {
  const { environment, random = randomBytes } = opts;
  if (environment !== undefined && environment !== 'dev' && environment !== 'stage' && environment !== 'prod') {
    throw new TypeError('invalid environment');
  }
  const keyId = generateKeyId(random);
  const body = `nr_${environment ?? NO_ENV}_${keyId}_${randomBase62(SECRET_LENGTH, random)}`;
  const key = body + encodeChecksum(crc32(body));
  return { key, keyId, hint: keyHint(key), hash: hashKey(key) };
}

/**
 * Structural + checksum validation, O(MAX_KEY_LENGTH), no regex, never throws.
 * Results never contain (any part of) the secret; failures are shared frozen objects.
 */
export function parseKey(candidate: string | null | undefined): ParseResult {
  if (typeof candidate !== 'string' || candidate.length === 0) return MISSING;
  const len = candidate.length;
  if (len > MAX_KEY_LENGTH || len < MIN_KEY_LENGTH) return MALFORMED;
  let start = -1;
  let environment: Environment | undefined;
  for (const p of PREFIXES) {
    if (len === p.prefix.length + BODY_LENGTH && candidate.startsWith(p.prefix)) {
      start = p.prefix.length;
      environment = p.environment;
      break;
    }
  }
  if (start < 0) return MALFORMED;
  const idEnd = start + KEY_ID_LENGTH;
  if (
    !allIn(candidate, start, idEnd, B32_VALUE) ||
    candidate.charCodeAt(idEnd) !== UNDERSCORE ||
    !allIn(candidate, idEnd + 1, len, B62_VALUE)
  ) {
    return MALFORMED;
  }
  let sum = 0; // 62^6 < 2^53: exact
  for (let i = len - CHECKSUM_LENGTH; i < len; i++) sum = sum * 62 + B62_VALUE[candidate.charCodeAt(i)]!;
  if (sum !== crc32(candidate.slice(0, len - CHECKSUM_LENGTH))) return BAD_CHECKSUM;
  return { ok: true, keyId: candidate.slice(start, idEnd), environment };
}

export function isKeyId(s: unknown): s is string {
  return typeof s === 'string' && s.length === KEY_ID_LENGTH && allIn(s, 0, KEY_ID_LENGTH, B32_VALUE);
}

/** Hex SHA-256 of the full key (the stored form). */
export function hashKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** Constant-time comparison of sha256(key) with a stored hex hash; false (never throws) on bad input. */
export function verifyKey(key: string, expectedHashHex: string): boolean {
  if (typeof key !== 'string' || key.length > MAX_KEY_LENGTH) return false;
  if (typeof expectedHashHex !== 'string' || expectedHashHex.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = expectedHashHex.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))) return false;
  }
  const expected = Buffer.from(expectedHashHex, 'hex');
  const actual = hash('sha256', key, 'buffer');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

/** Last 4 chars (all checksum), for display. */
export function keyHint(key: string): string {
  return key.slice(-4);
}
