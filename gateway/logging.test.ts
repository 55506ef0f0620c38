import { describe, expect, it } from 'vitest';
import { generateKey } from '../api/keyformat.ts';
import { loggableUrl } from './logging.ts';

describe('loggableUrl', () => {
  const key = generateKey({ environment: 'prod' }).key;
  it.each([
    ['/v1/models', '/v1/models'],
    ['/v1/files/file-abc123/content', '/v1/files/file-abc123/content'],
    [`/v1/models?api_key=${key}`, '/v1/models?[redacted]'],
    [`/v1/models/${key}`, '/v1/models/[redacted]'],
    [`/v1/files/${encodeURIComponent(key).replace(/_/g, '%5F')}`, '/v1/files/[redacted]'],
    [`/v1/x/${key.slice(key.lastIndexOf('_') + 1)}`, '/v1/x/[redacted]'],
  ])('%s → %s', (url, expected) => {
    expect(loggableUrl(url)).toBe(expected);
  });
});
