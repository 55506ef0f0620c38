// The product page ("API Key Management"), followed literally on the real API server with the operator,
// the gateway (records from the records namespace, usage reported every 200 ms) and the official openai
// SDK. Every claim is observed where it happens: at the gateway (status codes, OpenAI error bodies), in
// the ApiKey's status, and in what `keys describe` prints.
//   Key scopes: one key with the three knobs (models, endpoints, IP allowlist).
//   Rotation flow: Duplicate → roll the new key out → confirm it is used (last-used per key id) → revoke
//   the old key (id) → 401 while the new one works. Then the same with a manual hand-off (`keys handoff`).
//   Expiration: 30d / 90d / custom datetime; after expiry 401 that says expired (the operator's clock is
//   moved for 30d, as the expiry tests do; the custom datetime really passes).
//   IP allowlist: a request from outside it costs zero credits.
import OpenAI from 'openai';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeySpecInput, ApiKeyStatus } from '../api/apikey.ts';
import { ANNOTATIONS, API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { runDescribe } from '../cli/keys/describe.ts';
import { runDuplicate } from '../cli/keys/duplicate.ts';
import { runHandoff } from '../cli/keys/handoff.ts';
import type { Io } from '../cli/keys/io.ts';
import { runRevoke } from '../cli/keys/revoke.ts';
import { runRotate } from '../cli/keys/rotate.ts';
import type { RunningGateway } from '../gateway/main.ts';
import { adminKubeConfig, clusterKubeconfig, hasCluster } from './support/cluster.ts';
import { eventually, realTimeClock, type TestOperator } from './support/operator.ts';
import { startStack, type Stack } from './support/stack.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `page-${RUN}`;
const RECORDS = `page-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const DAY = 86_400_000;
const TOKENS_PER_CHAT = 7; // test upstream's usage.total_tokens

type Answer = { status: number; code?: string | null; message?: string };

describe.skipIf(!hasCluster())('the product page, literally: operator + gateway + openai SDK', () => {
  const clock = realTimeClock(); // the hand-off compares the gateway's last-used times with the operator's clock
  let stack: Stack;
  let op: TestOperator;
  let gw: RunningGateway;
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const flags = { kubeconfig: clusterKubeconfig(), namespace: NS };
  const cli = () => {
    const out: string[] = [];
    const io: Io = {
      out: (t) => void out.push(t),
      err: (t) => void out.push(t),
      now: () => new Date(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
    return { io, text: () => out.join('') };
  };
  const status = async (name: string) =>
    ((await custom.getNamespacedCustomObject({ ...AK, namespace: NS, name })) as { status?: ApiKeyStatus }).status;
  const createKey = (name: string, spec: Omit<ApiKeySpecInput, 'team'>) =>
    custom.createNamespacedCustomObject({
      ...AK,
      namespace: NS,
      body: { apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name }, spec: { team: 'checkout', ...spec } },
    });
  /** The key the operator put into the workload Secret (with its key id), once it is not `not`. */
  const secretKey = (secret: string, not?: string) =>
    eventually(
      async () => {
        const s = await core.readNamespacedSecret({ namespace: NS, name: secret }).catch(() => undefined);
        const id = s?.metadata?.annotations?.[ANNOTATIONS.keyId];
        return s && id && id !== not ? { key: Buffer.from(s.data!['api-key']!, 'base64').toString(), id } : undefined;
      },
      30_000,
      `key in Secret ${secret}`,
    );
  const chat = async (key: string, model = 'gpt-4o-mini'): Promise<Answer> => {
    try {
      await new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'hi' }],
      });
      return { status: 200 };
    } catch (e) {
      if (!(e instanceof OpenAI.APIError)) throw e;
      return {
        status: e.status ?? 0,
        code: e.code,
        message: (e.error as { message?: string } | undefined)?.message ?? e.message,
      };
    }
  };
  const embed = async (key: string): Promise<Answer> => {
    try {
      await new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 }).embeddings.create({
        model: 'text-embedding-3-small',
        input: 'x',
      });
      return { status: 200 };
    } catch (e) {
      if (!(e instanceof OpenAI.APIError)) throw e;
      return { status: e.status ?? 0, code: e.code };
    }
  };
  const until = (what: string, f: () => Promise<Answer>, expected: Partial<Answer>) =>
    eventually(
      async () => {
        const a = await f();
        return Object.entries(expected).every(([k, v]) => a[k as keyof Answer] === v) ? a : undefined;
      },
      30_000,
      what,
    );
  /** The LAST USED cell of `keys describe`'s lineage row for a key id. */
  const describedLastUsed = async (name: string, id: string) => {
    const c = cli();
    await runDescribe(name, flags, c.io);
    const row = c
      .text()
      .split('\n')
      .find((l) => l.trimStart().startsWith(id)); // the lineage table's row
    return { row, text: c.text() };
  };

  beforeAll(async () => {
    stack = await startStack({
      recordsNamespace: RECORDS,
      clock,
      watchNamespace: NS,
      gatewayId: `page-${RUN}`,
      reportIntervalMs: 200,
    });
    ({ op, gw } = stack);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await custom.createNamespacedCustomObject({
      ...AK,
      plural: KINDS.team.plural,
      namespace: NS,
      body: {
        apiVersion: API_VERSION,
        kind: 'Team',
        metadata: { name: 'checkout' },
        spec: { allowedModels: ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small'] },
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('key scopes → duplicate → roll out → confirm last used per key id → revoke the old key id: 401 while the new one works', async () => {
    // "The dashboard surfaces three knobs per key": allowed models, allowed endpoints, IP allowlist.
    await createKey('stage-checkout-service', {
      environment: 'stage',
      allowedModels: ['gpt-4o-mini'],
      allowedEndpoints: ['/chat/completions'],
      ipAllowlist: ['127.0.0.0/8'],
    });
    const old = await secretKey('stage-checkout-service');
    expect(old.key.startsWith('nr_stage_')).toBe(true);
    await until('the key works', () => chat(old.key), { status: 200 });
    expect(await chat(old.key, 'gpt-4o')).toMatchObject({ status: 403, code: 'model_not_allowed' });
    expect(await embed(old.key)).toMatchObject({ status: 403, code: 'endpoint_not_allowed' });

    // "Create a new key with the same scopes (or use the Duplicate action on the existing key)."
    const dup = cli();
    await runDuplicate('stage-checkout-service', 'stage-checkout-service-v2', flags, dup.io);
    expect(dup.text()).toContain('created with the scopes of stage-checkout-service');
    const fresh = await secretKey('stage-checkout-service-v2');
    expect(fresh.id).not.toBe(old.id);

    // "Roll the new key out to your application": the application now calls with the new key.
    await until('the new key works', () => chat(fresh.key), { status: 200 });
    expect(await chat(fresh.key, 'gpt-4o')).toMatchObject({ status: 403, code: 'model_not_allowed' }); // same scopes
    expect(await embed(fresh.key)).toMatchObject({ status: 403, code: 'endpoint_not_allowed' });

    // "Wait until you confirm the new key is in use (the dashboard shows last-used timestamp per key)."
    const used = await eventually(
      async () => {
        const d = await describedLastUsed('stage-checkout-service-v2', fresh.id);
        return d.row && d.row.trim().split(/\s{2,}/)[5] !== 'never' ? d : undefined;
      },
      30_000,
      'describe shows last used for the new key id',
    );
    expect(used.text).toMatch(/LAST USED/);
    expect(used.row!.trim().split(/\s{2,}/)[5]).toMatch(/^\d+[smhd] ago$/);

    // "Revoke the old key from the dashboard."
    const revoke = cli();
    await runRevoke('stage-checkout-service', { ...flags, keyId: old.id }, revoke.io);
    expect(revoke.text()).toContain(`Key id ${old.id} of ApiKey ${NS}/stage-checkout-service revoked`);
    await until('the old key id gets 401', () => chat(old.key), { status: 401, code: 'revoked_api_key' });
    expect(await chat(fresh.key)).toEqual({ status: 200 });
    const s = await eventually(
      async () => {
        const st = await status('stage-checkout-service');
        return st?.keys?.find((k) => k.id === old.id && k.state === 'Revoked') ? st : undefined;
      },
      20_000,
      'Revoked in status',
    );
    expect(s.keys!.find((k) => k.id === old.id)).toMatchObject({
      revokedAt: expect.any(String),
      revokedReason: expect.stringMatching(/spec\.revokedKeyIds/),
    });
    const described = await describedLastUsed('stage-checkout-service', old.id);
    expect(described.row).toMatch(/Revoked/);
    // "The audit log records every key create / rotate / revoke event with actor ... and timestamp": one
    // audit line and one Event for this revocation, naming who wrote the list (the CLI's field manager).
    const audit = op.logs
      .filter((l) => l.includes('"stream":"audit"'))
      .map((l) => JSON.parse(l) as Record<string, string>)
      .filter((a) => a.action === 'revoke' && a.keyId === old.id);
    expect(audit).toEqual([
      expect.objectContaining({
        apiKey: `${NS}/stage-checkout-service`,
        actor: 'user:nemokeys-cli',
        reason: expect.stringMatching(/spec\.revokedKeyIds/),
      }),
    ]);
    const events = (await core.listNamespacedEvent({ namespace: NS })).items.filter(
      (e) => e.involvedObject.name === 'stage-checkout-service' && e.reason === 'KeyRevoked',
    );
    expect(events.map((e) => e.message)).toEqual([expect.stringContaining(`key id ${old.id} revoked`)]);
    expect(events[0]!.count ?? 1).toBe(1);
  }, 180_000);

  it('manual hand-off: the predecessor stays valid until `keys handoff`, which refuses before the successor is used', async () => {
    await createKey('prod-checkout-service', {
      environment: 'prod',
      rotation: { handoff: { mode: 'Manual', idle: '1s', maxOverlap: '5s' } },
    });
    const first = await secretKey('prod-checkout-service');
    await until('first key works', () => chat(first.key), { status: 200 });
    const rotate = cli();
    await runRotate('prod-checkout-service', flags, rotate.io);
    expect(rotate.text()).toContain('until YOU revoke it (manual hand-off)');
    const second = await secretKey('prod-checkout-service', first.id);
    const st = await eventually(
      async () => {
        const x = await status('prod-checkout-service');
        return x?.currentKeyId === second.id ? x : undefined;
      },
      20_000,
      'successor in status',
    );
    expect(st.conditions).toContainEqual(
      expect.objectContaining({ type: 'Rotating', status: 'True', reason: 'HandoffManual' }),
    );

    // Before the successor is used, `keys handoff` refuses and changes nothing.
    const refused = cli();
    await expect(runHandoff('prod-checkout-service', flags, refused.io)).rejects.toThrow(
      /has never been used.*--force/s,
    );
    // Past idle (1s) and maxOverlap (5s), the predecessor still works: nobody but the user ends a manual hand-off.
    await new Promise((r) => setTimeout(r, 6_000));
    op.enqueue('apikey', `${NS}/prod-checkout-service`);
    expect(await chat(first.key)).toEqual({ status: 200 });
    expect(await chat(second.key)).toEqual({ status: 200 }); // the new key is rolled out and used
    await eventually(
      async () => (await status('prod-checkout-service'))?.keys?.find((k) => k.id === second.id)?.lastUsedAt,
      20_000,
      'successor last used in status',
    );
    expect((await status('prod-checkout-service'))!.keys!.find((k) => k.id === first.id)!.state).toBe('Superseded');

    const handoff = cli();
    await runHandoff('prod-checkout-service', flags, handoff.io);
    expect(handoff.text()).toContain(`predecessor key ids ${first.id} revoked`);
    await until('predecessor gets 401', () => chat(first.key), { status: 401, code: 'revoked_api_key' });
    expect(await chat(second.key)).toEqual({ status: 200 });
  }, 120_000);

  it('a source IP outside the allowlist gets 401 and costs zero credits', async () => {
    await createKey('ci-checkout', { ipAllowlist: ['192.0.2.0/24'], budget: { credits: 1, period: 'Never' } });
    const k = await secretKey('ci-checkout');
    await until('denied by source address', () => chat(k.key), { status: 401, code: 'ip_not_allowed' });
    for (let i = 0; i < 5; i++) expect(await chat(k.key)).toMatchObject({ status: 401, code: 'ip_not_allowed' });
    // Let the source in: with a budget of 1 credit, the next request is admitted only if the six denied
    // ones cost nothing; it then costs what the upstream reports, and status counts exactly that.
    await custom.patchNamespacedCustomObject({
      ...AK,
      namespace: NS,
      name: 'ci-checkout',
      body: [{ op: 'replace', path: '/spec/ipAllowlist', value: ['127.0.0.1'] }],
    });
    await until('admitted from an allowed address', () => chat(k.key), { status: 200 });
    expect(await chat(k.key)).toMatchObject({ status: 429, code: 'insufficient_quota' });
    const usage = await eventually(
      async () => {
        const u = (await status('ci-checkout'))?.usage;
        return u && u.requests > 0 ? u : undefined;
      },
      20_000,
      'usage in status',
    );
    expect(usage).toEqual({ requests: 1, credits: TOKENS_PER_CHAT });
  }, 120_000);

  it('expiration: 30d, 90d and a custom datetime; after expiry a 401 that says expired (with the date)', async () => {
    const custom30 = new Date(Date.now() + 15_000).toISOString();
    await createKey('dev-30d', { expiration: '30d' });
    await createKey('svc-90d', { expiration: '90d' });
    await createKey('custom-date', { expiration: custom30 });
    const [k30, k90, kc1] = [await secretKey('dev-30d'), await secretKey('svc-90d'), await secretKey('custom-date')];
    const s30 = await eventually(
      async () => ((await status('dev-30d'))?.expiresAt ? status('dev-30d') : undefined),
      20_000,
      '30d expiry',
    );
    const s90 = await eventually(
      async () => ((await status('svc-90d'))?.expiresAt ? status('svc-90d') : undefined),
      20_000,
      '90d expiry',
    );
    expect(Date.parse(s30!.expiresAt!) - Date.parse(s30!.keys![0]!.createdAt)).toBe(30 * DAY);
    expect(Date.parse(s90!.expiresAt!) - Date.parse(s90!.keys![0]!.createdAt)).toBe(90 * DAY);
    expect(Date.parse((await status('custom-date'))!.expiresAt!)).toBe(Date.parse(custom30));
    for (const k of [k30, k90, kc1]) await until('works before expiry', () => chat(k.key), { status: 200 });

    // The custom datetime passes for real: the gateway refuses on its own clock.
    const expiredCustom = await until('custom datetime expired', () => chat(kc1.key), {
      status: 401,
      code: 'expired_api_key',
    });
    expect(expiredCustom.message).toContain(`It expired at ${new Date(custom30).toISOString()}.`);
    expect(expiredCustom.message).not.toMatch(/revoked/i);

    // 31 days later on the operator's clock: the 30d key is Expired (status and record), the 90d one works.
    clock.advance(31 * DAY);
    for (const name of ['dev-30d', 'svc-90d', 'custom-date']) op.enqueue('apikey', `${NS}/${name}`);
    await eventually(async () => (await status('dev-30d'))?.keys?.[0]?.state === 'Expired', 20_000, '30d key Expired');
    const expired30 = await until('30d key expired', () => chat(k30.key), { status: 401, code: 'expired_api_key' });
    expect(expired30.message).toContain(`It expired at ${new Date(s30!.expiresAt!).toISOString()}.`);
    expect(await chat(k90.key)).toEqual({ status: 200 });
    expect((await status('dev-30d'))!.conditions).toContainEqual(
      expect.objectContaining({ type: 'Expired', status: 'True', reason: 'Expired' }),
    );
  }, 180_000);
});
