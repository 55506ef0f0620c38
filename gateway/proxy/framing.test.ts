import { describe, expect, it } from 'vitest';
import { clientFraming, framingHeaders } from './framing.ts';

describe('clientFraming', () => {
  it.each([
    ['no body headers', {}, { kind: 'none' }],
    ['Content-Length: 0', { 'content-length': '0' }, { kind: 'none' }],
    ['Content-Length', { 'content-length': '12' }, { kind: 'length', length: 12 }],
    ['chunked', { 'transfer-encoding': 'chunked' }, { kind: 'chunked' }],
    ['Chunked (case)', { 'transfer-encoding': ' Chunked ' }, { kind: 'chunked' }],
    ['both: never guess', { 'transfer-encoding': 'chunked', 'content-length': '3' }, undefined],
    ['gzip, chunked: not ours to decode', { 'transfer-encoding': 'gzip, chunked' }, undefined],
    ['identity', { 'transfer-encoding': 'identity' }, undefined],
    ['negative length', { 'content-length': '-1' }, undefined],
    ['list of lengths', { 'content-length': '3, 3' }, undefined],
    ['hex length', { 'content-length': '0x10' }, undefined],
  ])('%s', (_name, headers, expected) => {
    expect(clientFraming(headers)).toEqual(expected);
  });
});

describe('framingHeaders', () => {
  it.each([
    [{ kind: 'none' } as const, {}],
    [{ kind: 'length', length: 5 } as const, { 'content-length': '5' }],
    [{ kind: 'chunked' } as const, { 'transfer-encoding': 'chunked' }],
  ])('%o replaces whatever framing headers were there', (framing, expected) => {
    const headers: Record<string, unknown> = { 'content-length': '999', 'transfer-encoding': 'gzip', 'x-other': '1' };
    framingHeaders(framing, headers);
    expect(headers).toEqual({ 'x-other': '1', ...expected });
  });
});
