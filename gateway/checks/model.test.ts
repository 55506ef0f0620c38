import { describe, expect, it } from 'vitest';
import { makeKeyAndRecord } from '../sources/testing.ts';
import { checkModel, isJsonContentType } from './model.ts';
import type { ModelSource } from './scopes.ts';

const { record } = makeKeyAndRecord({ scopes: { models: ['gpt-4o-mini', 'text-embedding-3-small'] } });

describe('checkModel', () => {
  it.each<[string, ModelSource, string, string]>([
    ['allowed model', 'json-required', '{"model":"gpt-4o-mini","messages":[]}', 'ok:gpt-4o-mini'],
    ['other model', 'json-required', '{"model":"gpt-4o"}', 'model_not_allowed'],
    ['missing model where required', 'json-required', '{"messages":[]}', 'bad_request'],
    ['null model where required', 'json-required', '{"model":null}', 'bad_request'],
    ['missing model where optional', 'json-optional', '{"input":"x"}', 'ok:-'],
    ['non-string model', 'json-required', '{"model":["gpt-4o-mini"]}', 'bad_request'],
    ['empty model', 'json-optional', '{"model":""}', 'bad_request'],
    ['invalid JSON', 'json-required', '{"model":', 'bad_request'],
    ['array body on a model route', 'json-required', '[{"model":"gpt-4o-mini"}]', 'bad_request'],
    ['array body elsewhere', 'none', '[1,2]', 'ok:-'],
    ['unknown route carrying a forbidden model', 'none', '{"model":"gpt-4o"}', 'model_not_allowed'],
    [
      'duplicate keys: JSON.parse keeps the last, like the router',
      'json-required',
      '{"model":"gpt-4o-mini","model":"gpt-4o"}',
      'model_not_allowed',
    ],
    ['over-long model', 'json-required', JSON.stringify({ model: 'x'.repeat(300) }), 'bad_request'],
  ])('%s', (_name, source, body, expected) => {
    const r = checkModel(record, source, Buffer.from(body));
    expect(r.ok ? `ok:${r.model ?? '-'}` : r.reason).toBe(expected);
  });
});

describe('isJsonContentType', () => {
  it.each([
    ['application/json', true],
    ['Application/JSON; charset=utf-8', true],
    ['application/merge-patch+json', true],
    ['text/plain', false],
    ['multipart/form-data; boundary=x', false],
    [undefined, false],
  ])('%s → %s', (ct, expected) => {
    expect(isJsonContentType(ct)).toBe(expected);
  });
});
