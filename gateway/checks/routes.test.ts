import { describe, expect, it } from 'vitest';
import { passThrough, routeModel } from './routes.ts';

describe('routeModel', () => {
  it.each([
    ['POST', '/chat/completions', { kind: 'body', source: 'json-required' }],
    ['POST', '/audio/transcriptions', { kind: 'body', source: 'multipart' }],
    ['GET', '/models', { kind: 'body', source: 'none' }],
    ['GET', '/models/gpt-4o', { kind: 'body', source: 'none' }],
    ['POST', '/files', { kind: 'body', source: 'none' }],
    ['POST', '/fine_tuning/jobs', { kind: 'body', source: 'none' }],
    ['POST', '/openai/deployments/gpt-4o/chat/completions', { kind: 'path', model: 'gpt-4o', source: 'json-optional' }],
    [
      'POST',
      '/openai/deployments/whisper/audio/transcriptions',
      { kind: 'path', model: 'whisper', source: 'multipart' },
    ],
    ['POST', '/engines/gpt-4o/completions', { kind: 'path', model: 'gpt-4o', source: 'json-optional' }],
    ['GET', '/engines/gpt-4o', { kind: 'path', model: 'gpt-4o', source: 'none' }],
    ['POST', '/batches', { kind: 'batch' }],
    ['GET', '/batches/b1', { kind: 'body', source: 'none' }],
    ['POST', '/messages', { kind: 'unknown' }],
    ['POST', '/openai/deployments', { kind: 'unknown' }],
    ['GET', '/admin', { kind: 'unknown' }],
  ])('%s %s', (method, endpoint, expected) => {
    expect(routeModel(method, endpoint)).toEqual(expected);
  });
});

describe('passThrough', () => {
  it.each([
    [[], '/messages', false],
    [['/messages'], '/messages', true],
    [['/v1/messages'], '/messages/count_tokens', true],
    [['/messages'], '/messagesx', false],
  ])('%j lets %s through: %s', (routes, endpoint, expected) => {
    expect(passThrough(routes, endpoint)).toBe(expected);
  });
});
