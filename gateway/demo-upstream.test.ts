import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoChatReply, startDemoUpstream, type DemoUpstream, type SeenRequest } from './demo-upstream.ts';

// The demo upstream through the official openai SDK: if its wire format drifted from OpenAI's,
// the SDK would fail to parse it.
describe('demo upstream', () => {
  let upstream: DemoUpstream;
  let client: OpenAI;
  const seen: SeenRequest[] = [];
  beforeAll(async () => {
    upstream = await startDemoUpstream({ onRequest: (r) => seen.push(r) });
    client = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(() => upstream.close());

  it('computes a deterministic reply and word-count usage', () => {
    expect(
      demoChatReply({
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'hello there' },
        ],
      }),
    ).toEqual({
      reply: 'You said: hello there',
      promptTokens: 4,
      completionTokens: 4,
    });
    expect(demoChatReply({ messages: [{ role: 'user', content: 'a b c d e' }], max_tokens: 3 }).reply).toBe(
      'You said: a',
    );
  });

  it('answers a chat completion with usage', async () => {
    const r = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'ping pong' }],
    });
    expect(r.choices[0]?.message.content).toBe('You said: ping pong');
    expect(r.usage).toEqual({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
    expect(r.model).toBe('gpt-4o-mini');
    expect(seen.at(-1)).toMatchObject({ method: 'POST', path: '/chat/completions', body: { model: 'gpt-4o-mini' } });
  });

  it('streams a chat completion as SSE ending with a usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('You said: one two three');
    expect(chunks).toBeGreaterThan(3);
    expect(usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
  });

  it('serves embeddings, images and models', async () => {
    const e = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a b', 'c'] });
    expect(e.data).toHaveLength(2);
    expect(e.data[0]?.embedding).toHaveLength(8);
    expect(e.usage.total_tokens).toBe(3);
    const img = await client.images.generate({ model: 'dall-e-3', prompt: 'a cat', n: 2 });
    expect(img.data).toHaveLength(2);
    expect(
      Buffer.from(img.data?.[0]?.b64_json ?? '', 'base64')
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    expect(models).toContain('gpt-4o-mini');
  });

  it('serves paths without the /v1 prefix and rejects unknown ones in the OpenAI error shape', async () => {
    const ok = await fetch(`${upstream.url}/models`);
    expect(ok.status).toBe(200);
    const missing = await fetch(`${upstream.url}/v1/audio/speech`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found', type: 'invalid_request_error' } });
    const bad = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
    await expect(client.models.retrieve('no-such-model')).rejects.toMatchObject({ status: 404 });
  });
});
