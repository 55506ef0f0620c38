import { describe, expect, it } from 'vitest';
import { requestStreamUsage, UsageChunkStripper } from './stream-usage.ts';

describe('requestStreamUsage', () => {
  const body = (v: unknown) => Buffer.from(JSON.stringify(v));
  it.each([
    [
      'a stream that did not ask',
      '/chat/completions',
      { model: 'm', stream: true },
      true,
      { model: 'm', stream: true, stream_options: { include_usage: true } },
    ],
    [
      'a deployment route',
      '/openai/deployments/m/chat/completions',
      { model: 'm', stream: true },
      true,
      { model: 'm', stream: true, stream_options: { include_usage: true } },
    ],
    [
      'legacy completions',
      '/completions',
      { model: 'm', stream: true },
      true,
      { model: 'm', stream: true, stream_options: { include_usage: true } },
    ],
    [
      'other stream options are kept',
      '/chat/completions',
      { model: 'm', stream: true, stream_options: { x: 1 } },
      true,
      { model: 'm', stream: true, stream_options: { x: 1, include_usage: true } },
    ],
    [
      'include_usage false is overridden',
      '/chat/completions',
      { model: 'm', stream: true, stream_options: { include_usage: false } },
      true,
      { model: 'm', stream: true, stream_options: { include_usage: true } },
    ],
    [
      'a client that asked: untouched',
      '/chat/completions',
      { model: 'm', stream: true, stream_options: { include_usage: true } },
      false,
      undefined,
    ],
    ['not streamed: untouched', '/chat/completions', { model: 'm' }, false, undefined],
    ['another route: untouched', '/responses', { model: 'm', stream: true }, false, undefined],
  ])('%s', (_name, endpoint, json, injected, sent) => {
    const original = body(json);
    const r = requestStreamUsage(endpoint, json as Record<string, unknown>, original);
    expect(r.injected).toBe(injected);
    if (sent === undefined) expect(r.body).toBe(original);
    else expect(JSON.parse(r.body.toString())).toEqual(sent);
  });
});

describe('UsageChunkStripper', () => {
  const chunk = (v: unknown) => `data: ${JSON.stringify(v)}\n\n`;
  const stream = [
    chunk({ id: 'c', choices: [{ index: 0, delta: { content: 'hi é 😀' } }], usage: null }),
    chunk({ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null }),
    chunk({ id: 'c', choices: [], usage: { total_tokens: 9 } }),
    'data: [DONE]\n\n',
  ].join('');
  const expected = [
    chunk({ id: 'c', choices: [{ index: 0, delta: { content: 'hi é 😀' } }] }),
    chunk({ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
    'data: [DONE]\n\n',
  ].join('');

  it.each([1, 3, 7, 50, 10_000])('gives the client the stream it asked for, split every %i bytes', (size) => {
    const s = new UsageChunkStripper();
    let out = '';
    const bytes = Buffer.from(stream);
    for (let i = 0; i < bytes.length; i += size) out += s.push(bytes.subarray(i, i + size)).toString();
    out += s.end().toString();
    expect(out).toBe(expected);
  });

  it.each([
    ['LiteLLM: one choice with an empty delta', { choices: [{ index: 0, delta: {} }], usage: { total_tokens: 9 } }, ''],
    [
      'an empty delta with null fields',
      { choices: [{ index: 0, delta: {}, finish_reason: null, logprobs: null }], usage: { total_tokens: 9 } },
      '',
    ],
    [
      'content and usage in one chunk: the content stays',
      { choices: [{ index: 0, delta: { content: 'x' } }], usage: { total_tokens: 9 } },
      chunk({ choices: [{ index: 0, delta: { content: 'x' } }] }),
    ],
    [
      'a finish reason and usage: the finish reason stays',
      { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { total_tokens: 9 } },
      chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
    ],
    ['no choices field at all', { id: 'c', usage: { total_tokens: 9 } }, ''],
  ])('usage chunk shapes: %s', (_name, event, expectedOut) => {
    const s = new UsageChunkStripper();
    expect(s.push(Buffer.from(chunk(event))).toString() + s.end().toString()).toBe(expectedOut);
  });

  it('passes comments, other events and CRLF framing through', () => {
    const s = new UsageChunkStripper();
    const text = ': keep-alive\r\n\r\nevent: ping\ndata: {}\n\ndata: not json\n\n';
    expect(s.push(Buffer.from(text)).toString() + s.end().toString()).toBe(text);
  });
});
