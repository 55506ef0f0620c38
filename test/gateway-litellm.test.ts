import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyRecord } from '../api/record.ts';
import { gatewayOptionsFromFlags, UPSTREAM_KEY_ENV } from '../cli/gateway.ts';
import { buildApp } from '../gateway/app.ts';
import { DEFAULT_RESERVATION_TOKENS } from '../gateway/limits/estimate.ts';
import { MemoryLimiter } from '../gateway/limits/memory.ts';
import { RecordStore } from '../gateway/records/store.ts';
import { UsageTracker } from '../gateway/usage/tracker.ts';
import { EMBEDDING_MODEL, MOCK_REPLY, requireLitellm, startLitellm, type Litellm } from './support/litellm.ts';
import { settledCredits } from './support/settled.ts';
import { makeKeyAndRecord, type RecordOverrides } from '../gateway/sources/testing.ts';
import { parseResponses, rawExchange } from './support/raw-http.ts';

// The gateway in front of a REAL router: the LiteLLM proxy (test/support/litellm.ts), offline with
// mock_response models and its master key as the router credential, which the gateway takes from
// NEMOKEYS_UPSTREAM_API_KEY exactly as `nemokeys gateway` does. Keys and records come from the
// operator's renderer; the client is the official openai SDK. What LiteLLM served is read from its
// own success callback (every completion/embedding it answered, with the usage it reported), so
// "charged what the router reported" and "never reached the router" are observed at the router.

const haveLitellm = requireLitellm();
const HI = [{ role: 'user' as const, content: 'hi' }];

describe.skipIf(!haveLitellm)('the gateway in front of a real LiteLLM proxy', () => {
  let litellm: Litellm;
  let app: ReturnType<typeof buildApp>;
  let gatewayUrl: string;
  let port: number;
  const records = new RecordStore();
  const limiter = new MemoryLimiter();
  const usage = new UsageTracker();

  function addKey(spec: RecordOverrides = {}): { key: string; record: KeyRecord } {
    const kr = makeKeyAndRecord(spec);
    records.upsert(kr.record);
    return kr;
  }
  const client = (apiKey: string) =>
    new OpenAI({ apiKey, baseURL: `${gatewayUrl}/v1`, maxRetries: 0, timeout: 20_000 });

  // LiteLLM's success callback runs after the response is sent: counts are read once they are quiet.
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** How many calls LiteLLM has served, once no callback of an earlier request is still on its way. */
  async function quietCount(): Promise<number> {
    for (let n = litellm.calls().length; ; n = litellm.calls().length) {
      await sleep(300);
      if (litellm.calls().length === n) return n;
    }
  }
  /** The calls LiteLLM served after `before`: waits for `atLeast` of them, then for stragglers. */
  async function servedSince(before: number, atLeast = 0): Promise<ReturnType<Litellm['calls']>> {
    for (let i = 0; i < 100 && litellm.calls().length - before < atLeast; i++) await sleep(50);
    await sleep(300);
    return litellm.calls().slice(before);
  }
  const post = (base: string, path: string, bearer: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    litellm = await startLitellm();
    console.log(`LiteLLM started in ${litellm.startMs} ms`);
    // the router credential as the CLI derives it from its environment
    const { upstreamAuthorization } = gatewayOptionsFromFlags(
      { upstream: litellm.url, recordsDir: '/unused' },
      { [UPSTREAM_KEY_ENV]: litellm.masterKey },
    );
    records.replaceAll([]); // synced: the gateway serves from here on
    app = buildApp({ records, usage, limiter, upstream: new URL(litellm.url), upstreamAuthorization });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    gatewayUrl = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await app?.close();
    await litellm?.stop();
  });

  it("LiteLLM serves only its master key: the gateway's requests succeed because it sends that credential", async () => {
    const before = await quietCount();
    const res = await post(litellm.url, '/v1/chat/completions', 'sk-not-the-master-key', {
      model: 'gpt-4o-mini',
      messages: HI,
    });
    // without a database LiteLLM cannot look other keys up and refuses them (400 no_db_connection)
    expect([400, 401]).toContain(res.status);
    expect(await servedSince(before)).toEqual([]);
  });

  it("chat: the reply is the router's, and the key is charged the tokens LiteLLM reported", async () => {
    const { key, record } = addKey({ budget: { credits: 10_000, period: 'Never' } });
    const before = await quietCount();
    const res = await client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: HI });
    expect(res.choices[0]!.message.content).toBe(MOCK_REPLY['gpt-4o-mini']);
    const served = await servedSince(before, 1);
    expect(served).toMatchObject([{ model: 'gpt-4o-mini', stream: false }]);
    expect(served[0]!.totalTokens).toBeGreaterThan(1);
    expect(res.usage?.total_tokens).toBe(served[0]!.totalTokens);
    expect(await settledCredits(usage, record.keyId)).toBe(served[0]!.totalTokens);
    expect(limiter.budgetUsed(record.limitsKey, record, Date.now())).toBe(served[0]!.totalTokens);
  });

  it("a streamed chat that did not ask for usage: no usage chunk reaches the client, the budget is charged LiteLLM's tokens", async () => {
    const { key, record } = addKey({ budget: { credits: 10_000, period: 'Never' } });
    const before = await quietCount();
    const stream = await client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: HI, stream: true });
    const chunks: Record<string, unknown>[] = [];
    for await (const c of stream) chunks.push(c as unknown as Record<string, unknown>);
    // LiteLLM's usage chunk is `choices: [{index: 0, delta: {}}]` + usage (not OpenAI's `choices: []`)
    for (const c of chunks) expect(c).not.toHaveProperty('usage');
    const text = chunks.map((c) => (c.choices as { delta: { content?: string } }[])[0]?.delta.content ?? '').join('');
    expect(text).toBe(MOCK_REPLY['gpt-4o-mini']);
    const served = await servedSince(before, 1);
    expect(served).toMatchObject([{ model: 'gpt-4o-mini', stream: true }]);
    expect(served[0]!.totalTokens).toBeGreaterThan(1);
    expect(await settledCredits(usage, record.keyId)).toBe(served[0]!.totalTokens);
    expect(limiter.budgetUsed(record.limitsKey, record, Date.now())).toBe(served[0]!.totalTokens);
  });

  it("a streamed chat that asked for usage gets LiteLLM's usage chunk, and is charged it", async () => {
    const { key, record } = addKey({ budget: { credits: 10_000, period: 'Never' } });
    const stream = await client(key).chat.completions.create({
      model: 'gpt-4o',
      messages: HI,
      stream: true,
      stream_options: { include_usage: true },
    });
    const withUsage = [];
    for await (const c of stream) if (c.usage) withUsage.push(c.usage);
    expect(withUsage).toHaveLength(1);
    expect(await settledCredits(usage, record.keyId)).toBe(withUsage[0]!.total_tokens);
  });

  it('a budget smaller than one streamed response is exhausted by it; the next request never reaches LiteLLM', async () => {
    const { key } = addKey({ budget: { credits: 3, period: 'Monthly' } });
    const start = await quietCount();
    const stream = await client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: HI,
      stream: true,
      max_tokens: 2,
    });
    for await (const _ of stream);
    expect(await servedSince(start, 1)).toHaveLength(1);
    const before = await quietCount();
    const err = await client(key)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: HI })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('insufficient_quota');
    expect(await servedSince(before)).toEqual([]);
  });

  it("embeddings: LiteLLM's vector comes back; its total_tokens 0 is no report, so the key pays its reservation", async () => {
    const { key, record } = addKey({ budget: { credits: 10_000, period: 'Never' } });
    const before = await quietCount();
    const res = await client(key).embeddings.create({
      model: EMBEDDING_MODEL,
      input: 'hello',
      encoding_format: 'float',
    });
    expect(res.data[0]!.embedding).toEqual([0.25, -0.5, 0.75]);
    expect(await servedSince(before, 1)).toMatchObject([{ model: EMBEDDING_MODEL }]);
    // LiteLLM's mock embedding reports prompt_tokens 10 but total_tokens 0 (docs/design.md §4, "Costs")
    expect(res.usage.total_tokens).toBe(0);
    expect(await settledCredits(usage, record.keyId)).toBe(DEFAULT_RESERVATION_TOKENS);
  });

  it("a streamed legacy completion: no usage reaches the client, the key is charged LiteLLM's tokens", async () => {
    const { key, record } = addKey({ budget: { credits: 10_000, period: 'Never' } });
    const before = await quietCount();
    const stream = await client(key).completions.create({
      model: 'gpt-4o-mini',
      prompt: 'hi',
      stream: true,
      max_tokens: 40,
    });
    let text = '';
    for await (const c of stream) {
      expect(c).not.toHaveProperty('usage');
      text += c.choices[0]?.text ?? '';
    }
    expect(text).toBe(MOCK_REPLY['gpt-4o-mini']);
    const served = await servedSince(before, 1);
    expect(served).toMatchObject([{ model: 'gpt-4o-mini', callType: 'atext_completion', stream: true }]);
    expect(served[0]!.totalTokens).not.toBe(40);
    expect(await settledCredits(usage, record.keyId)).toBe(served[0]!.totalTokens);
  });

  describe('with --no-stream-usage the gateway leaves streamed requests alone', () => {
    let plain: ReturnType<typeof buildApp>;
    let sdk: (key: string) => OpenAI;
    beforeAll(async () => {
      const upstreamAuthorization = `Bearer ${litellm.masterKey}`;
      plain = buildApp({
        records,
        usage,
        limiter,
        upstream: new URL(litellm.url),
        upstreamAuthorization,
        streamUsage: false,
      });
      await plain.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(plain.server.address() as AddressInfo).port}/v1`;
      sdk = (apiKey) => new OpenAI({ apiKey, baseURL: base, maxRetries: 0, timeout: 20_000 });
    });
    afterAll(async () => {
      await plain?.close();
    });

    it('chat: LiteLLM reports no usage, the stream costs its reservation', async () => {
      const { key, record } = addKey({ budget: { credits: 10_000, period: 'Never' } });
      const before = await quietCount();
      const stream = await sdk(key).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: HI,
        stream: true,
        max_tokens: 50,
      });
      for await (const c of stream) expect(c).not.toHaveProperty('usage');
      const served = await servedSince(before, 1);
      expect(served).toMatchObject([{ model: 'gpt-4o-mini', stream: true }]);
      expect(served[0]!.totalTokens).not.toBe(50);
      expect(await settledCredits(usage, record.keyId)).toBe(50);
    });

    it('legacy completions: LiteLLM puts total_tokens 0 on every chunk, which is no report: charged the reservation, not 0', async () => {
      const { key, record } = addKey({ budget: { credits: 10_000, period: 'Never' } });
      const stream = await sdk(key).completions.create({
        model: 'gpt-4o-mini',
        prompt: 'hi',
        stream: true,
        max_tokens: 40,
      });
      const reported: (number | undefined)[] = [];
      for await (const c of stream) reported.push(c.usage?.total_tokens);
      expect(reported.length).toBeGreaterThan(0);
      expect(reported.every((t) => t === 0)).toBe(true);
      expect(await settledCredits(usage, record.keyId)).toBe(40);
    });
  });

  describe('a key scoped to gpt-4o-mini never reaches gpt-4o, wherever the model is named', () => {
    const chat = { messages: HI };
    // LiteLLM takes the model from these paths: each is shown to serve gpt-4o when called directly
    const pathRoutes = ['/openai/deployments/gpt-4o/chat/completions', '/engines/gpt-4o/chat/completions'];

    it('in the body of /v1/chat/completions: 403 from the gateway, nothing served', async () => {
      const { key } = addKey({ scopes: { models: ['gpt-4o-mini'] } });
      const before = await quietCount();
      const err = await client(key)
        .chat.completions.create({ model: 'gpt-4o', messages: HI })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(await servedSince(before)).toEqual([]);
      // the allowed model passes
      const ok = await client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: HI });
      expect(ok.choices[0]!.message.content).toBe(MOCK_REPLY['gpt-4o-mini']);
    });

    it.each(pathRoutes)('in the path %s: LiteLLM serves gpt-4o there, the gateway refuses it (403)', async (path) => {
      const start = await quietCount();
      const direct = await post(litellm.url, path, litellm.masterKey, chat);
      expect(direct.status).toBe(200);
      expect(((await direct.json()) as OpenAI.ChatCompletion).choices[0]!.message.content).toBe(MOCK_REPLY['gpt-4o']);
      expect(await servedSince(start, 1)).toMatchObject([{ model: 'gpt-4o' }]);

      const { key } = addKey({ scopes: { models: ['gpt-4o-mini'] } });
      const before = await quietCount();
      const res = await post(gatewayUrl, path, key, chat);
      expect(res.status).toBe(403);
      // a body naming the allowed model does not launder the path's model
      expect((await post(gatewayUrl, path, key, { ...chat, model: 'gpt-4o-mini' })).status).toBe(403);
      expect(await servedSince(before)).toEqual([]);
    });

    it('the allowed model in a deployment path is served, streamed without a usage chunk it did not ask for', async () => {
      const { key, record } = addKey({
        scopes: { models: ['gpt-4o-mini'] },
        budget: { credits: 10_000, period: 'Never' },
      });
      const before = await quietCount();
      const res = await post(gatewayUrl, '/openai/deployments/gpt-4o-mini/chat/completions', key, {
        ...chat,
        stream: true,
      });
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(body).not.toContain('"usage"');
      expect(body).toContain('data: [DONE]');
      const served = await servedSince(before, 1);
      expect(served).toMatchObject([{ model: 'gpt-4o-mini', stream: true }]);
      expect(await settledCredits(usage, record.keyId)).toBe(served[0]!.totalTokens);
    });
  });

  describe('request smuggling over a raw socket', () => {
    const smuggled = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'smuggled' }] });
    const second = (bearer: string, close = '') =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer ${bearer}\r\n${close}` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(smuggled)}\r\n\r\n${smuggled}`;
    const chunked = (body: string) => `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const getModels = (key: string, body: string) =>
      `GET /v1/models HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${key}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(body)}`;

    it('LiteLLM does serve a second request it can parse on one connection (what an unframed body would be)', async () => {
      const before = await quietCount();
      const get = `GET /v1/models HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer ${litellm.masterKey}\r\n\r\n`;
      const { port: llPort } = new URL(litellm.url);
      const pipelined = get + second(litellm.masterKey, 'Connection: close\r\n');
      const responses = parseResponses(await rawExchange(Number(llPort), [pipelined], { timeoutMs: 5_000 }));
      expect(responses.map((r) => r.status)).toEqual([200, 200]);
      expect(await servedSince(before, 1)).toMatchObject([{ model: 'gpt-4o' }]);
    });

    it.each<[string, RecordOverrides, string]>([
      // forwarded, framed: LiteLLM reads the whole second request as the GET's body, which is no JSON
      ['a key that may use any model', { scopes: { models: ['*'] } }, 'Invalid JSON payload'],
      // a model-scoped key's body is read whatever the route: the gateway refuses it, no JSON object with a model
      [
        'a key scoped to gpt-4o-mini',
        { scopes: { models: ['gpt-4o-mini'], endpoints: ['/chat/completions', '/models'] } },
        'invalid_request_error',
      ],
    ])(
      '%s: a GET with a chunked body holding a second request produces no second completion',
      async (_n, spec, error) => {
        const { key } = addKey(spec);
        const before = await quietCount();
        // the second request carries the master key: were it parsed by LiteLLM, it would be served
        const attack = getModels(key, second(litellm.masterKey));
        const follow = `GET /v1/models HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`;
        const responses = parseResponses(
          await rawExchange(port, [attack, { pauseMs: 200 }, follow], { timeoutMs: 10_000 }),
        );
        expect(responses.map((r) => r.status)).toEqual([400, 200]);
        expect(responses[0]!.body).toContain(error);
        // a legitimate completion afterwards, likely on the same upstream connection, gets its own answer
        const ok = await client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: HI });
        expect(ok.choices[0]!.message.content).toBe(MOCK_REPLY['gpt-4o-mini']);
        expect(await servedSince(before, 1)).toMatchObject([{ model: 'gpt-4o-mini' }]);
        expect(await servedSince(before)).toHaveLength(1);
      },
    );
  });
});
