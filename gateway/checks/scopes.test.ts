import { describe, expect, it } from 'vitest';
import {
  canonicalSegments,
  endpointAllowed,
  endpointLabel,
  endpointPath,
  modelAllowed,
  modelSource,
} from './scopes.ts';

describe('canonicalSegments + endpointPath', () => {
  it.each([
    ['/v1/chat/completions', '/chat/completions'],
    ['/chat/completions', '/chat/completions'],
    ['/v1/chat/completions?x=1', '/chat/completions'],
    ['/v1/chat/completions/', '/chat/completions'],
    ['/v1/models/ft%3Agpt-4o%3Aorg', '/models/ft:gpt-4o:org'],
    ['/', '/'],
    ['/v1', '/'],
    ['//v1/embeddings', undefined],
    ['/v1//embeddings', undefined],
    ['/v1/embeddings/../chat/completions', undefined],
    ['/v1/./chat/completions', undefined],
    ['/v1/%2e%2e/chat/completions', undefined],
    ['/v1/chat%2Fcompletions', undefined],
    ['/v1/chat%5Ccompletions', undefined],
    ['/v1/chat\\completions', undefined],
    ['/v1/%E0%A4%A', undefined],
    ['/v1/a%00b', undefined],
    ['v1/chat/completions', undefined],
    ['*', undefined],
  ])('%s → %s', (url, expected) => {
    const segs = canonicalSegments(url);
    expect(segs === undefined ? undefined : endpointPath(segs)).toBe(expected);
  });
});

describe('endpointAllowed', () => {
  it.each([
    [[], '/anything', true],
    [['/chat/completions'], '/chat/completions', true],
    [['/v1/chat/completions'], '/chat/completions', true],
    [['/chat/completions/'], '/chat/completions', true],
    [['/embeddings'], '/chat/completions', false],
    [['/chat'], '/chatty', false],
    [['/responses'], '/responses/resp_123', true],
    [['/responses'], '/responsesx', false],
    [['/v1'], '/models', true],
    [['/embeddings', '/images/generations'], '/images/generations', true],
    [['/embeddings', '/images/generations'], '/images/edits', false],
  ])('%j allows %s → %s', (endpoints, endpoint, expected) => {
    expect(endpointAllowed(endpoints, endpoint)).toBe(expected);
  });
});

describe('modelAllowed', () => {
  it.each([
    [['*'], 'gpt-4o', true],
    [['gpt-4o-mini'], 'gpt-4o-mini', true],
    [['gpt-4o-mini'], 'gpt-4o', false],
    [['gpt-4o-mini'], 'GPT-4O-MINI', false],
    [[], 'gpt-4o', false],
  ])('%j allows %s → %s', (models, model, expected) => {
    expect(modelAllowed(models, model)).toBe(expected);
  });
});

describe('modelSource / endpointLabel', () => {
  it.each([
    ['POST', '/chat/completions', 'json-required'],
    ['POST', '/chat/completions/', 'json-required'],
    ['GET', '/chat/completions', 'none'],
    ['POST', '/moderations', 'json-optional'],
    ['POST', '/audio/transcriptions', 'multipart'],
    ['POST', '/files', 'none'],
    ['POST', '/responses/resp_1/cancel', 'none'],
  ])('%s %s → %s', (method, endpoint, expected) => {
    expect(modelSource(method, endpoint)).toBe(expected);
  });

  it.each([
    ['/chat/completions', '/chat/completions'],
    ['/files/file-abc/content', '/files'],
    ['/completionsx', 'other'],
    ['/random/attacker/path', 'other'],
  ])('label of %s is %s', (endpoint, label) => {
    expect(endpointLabel(endpoint)).toBe(label);
  });
});
