// Rotation end to end: real API server + the operator + the real gateway (records from the records
// namespace, usage reported back every 200 ms) + clients using the official `openai` SDK, calling
// continuously. The operator runs on real time here, because the hand-off compares the gateway's
// lastUsedAt (its own wall clock) with the operator's clock.
//   1. `keys rotate` (the CLI, in-process) → successor in the Secret; the predecessor keeps working;
//      the client switches; once the predecessor has been idle for handoff.idle it is revoked (401),
//      and no request with the successor ever failed.
//   2. A forgotten consumer keeps using the predecessor: it stays valid, its lastUsedAt moves, until
//      handoff.maxOverlap revokes it.
import OpenAI from 'openai';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus, KeyEntry } from '../api/apikey.ts';
import { ANNOTATIONS, API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { parseKey } from '../api/keyformat.ts';
import { runRotate } from '../cli/keys/rotate.ts';
import type { RunningGateway } from '../gateway/main.ts';
import { patchMetadata } from '../kube/apply.ts';
import { adminKubeConfig, clusterKubeconfig, hasCluster } from './support/cluster.ts';
import { eventually, realTimeClock, type TestOperator } from './support/operator.ts';
import { startStack, type Stack } from './support/stack.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `rot-e2e-${RUN}`;
const RECORDS = `rot-e2e-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };

interface Call {
  keyId: string;
  status: number;
  at: number;
}

/** A client calling chat completions back to back with whatever key `keyOf` returns at that moment. */
function consumer(baseUrl: string, keyOf: () => string) {
  const calls: Call[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const key = keyOf();
      const keyId = (parseKey(key) as { keyId: string }).keyId;
      const client = new OpenAI({ apiKey: key, baseURL: `${baseUrl}/v1`, maxRetries: 0, timeout: 10_000 });
      try {
        await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
        calls.push({ keyId, status: 200, at: Date.now() });
      } catch (e) {
        calls.push({ keyId, status: e instanceof OpenAI.APIError ? (e.status ?? 0) : -1, at: Date.now() });
      }
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  return {
    calls,
    ok: (keyId: string, since = 0) =>
      calls.filter((c) => c.keyId === keyId && c.status === 200 && c.at >= since).length,
    failed: (keyId: string) => calls.filter((c) => c.keyId === keyId && c.status !== 200),
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe.skipIf(!hasCluster())('rotation end to end: operator + gateway + openai SDK', () => {
  let stack: Stack;
  let op: TestOperator;
  let gw: RunningGateway;
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const status = async (name: string) =>
    ((await custom.getNamespacedCustomObject({ ...AK, namespace: NS, name })) as { status?: ApiKeyStatus }).status;
  const entry = async (name: string, id: string): Promise<KeyEntry | undefined> =>
    (await status(name))?.keys?.find((k) => k.id === id);
  const plaintext = async (name: string) =>
    Buffer.from((await core.readNamespacedSecret({ namespace: NS, name })).data!['api-key']!, 'base64').toString();
  const keyIdOf = (key: string) => (parseKey(key) as { keyId: string }).keyId;
  const issued = (name: string, not?: string) =>
    eventually(
      async () => {
        const k = await plaintext(name).catch(() => undefined);
        return k && keyIdOf(k) !== not ? k : undefined;
      },
      30_000,
      `key in Secret ${name}`,
    );
  const call = async (key: string) => {
    try {
      await new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
      });
      return 200;
    } catch (e) {
      return e instanceof OpenAI.APIError ? (e.status ?? 0) : -1;
    }
  };
  const createKey = (name: string, handoff: Record<string, string>) =>
    custom.createNamespacedCustomObject({
      ...AK,
      namespace: NS,
      body: {
        apiVersion: API_VERSION,
        kind: 'ApiKey',
        metadata: { name },
        spec: { team: 'payments', rotation: { handoff } },
      },
    });
  const events = async (name: string) =>
    (await core.listNamespacedEvent({ namespace: NS })).items.filter((e) => e.involvedObject.name === name);
  const audits = () =>
    op.logs.filter((l) => l.includes('"stream":"audit"')).map((l) => JSON.parse(l) as Record<string, string>);

  beforeAll(async () => {
    stack = await startStack({
      recordsNamespace: RECORDS,
      clock: realTimeClock(),
      gatewayId: `gw-${RUN}`,
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
        metadata: { name: 'payments' },
        spec: { allowedModels: ['gpt-4o-mini'] },
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('manual rotation: the old key keeps working, the client switches, the idle predecessor is revoked; no request with the new key fails', async () => {
    await createKey('checkout', { idle: '5s', maxOverlap: '1h' });
    const k1 = await issued('checkout');
    const id1 = keyIdOf(k1);
    await eventually(async () => (await call(k1)) === 200, 20_000, 'gateway accepts the first key');
    let current = k1;
    const client = consumer(gw.url, () => current);
    try {
      await eventually(async () => client.ok(id1) >= 3, 20_000, 'client in use');

      const out: string[] = [];
      const requested = Date.now();
      await runRotate(
        'checkout',
        { kubeconfig: clusterKubeconfig(), namespace: NS },
        {
          out: (t) => out.push(t),
          err: () => {},
          now: () => new Date(),
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        },
      );
      expect(out.join('')).toMatch(/hand-off|successor/i);
      const k2 = await issued('checkout', id1);
      const id2 = keyIdOf(k2);
      const rotatedAt = Date.now();
      console.info(`[rotation-e2e] keys rotate → successor in the Secret: ${rotatedAt - requested} ms`);
      // The predecessor is Superseded and still accepted (the client has not switched yet).
      const s = await eventually(
        async () => {
          const st = await status('checkout');
          return st?.currentKeyId === id2 ? st : undefined;
        },
        20_000,
        'status shows the successor',
      );
      expect(s.keys!.map((k) => [k.id, k.state])).toEqual([
        [id1, 'Superseded'],
        [id2, 'Active'],
      ]);
      expect(s.conditions).toContainEqual(
        expect.objectContaining({ type: 'Rotating', status: 'True', reason: 'HandoffPending' }),
      );
      await eventually(async () => client.ok(id1, rotatedAt) >= 3, 20_000, 'old key still served after the rotation');

      current = k2; // the workload picks up the new Secret
      await eventually(async () => client.ok(id2) >= 3, 20_000, 'client on the new key');
      const switchedAt = Date.now();
      const revoked = await eventually(
        async () => {
          const e = await entry('checkout', id1);
          return e?.state === 'Revoked' ? e : undefined;
        },
        60_000,
        'predecessor revoked after idle',
      );
      expect(revoked.revokedReason).toMatch(/hand-off confirmed: successor .* in use, predecessor idle for 5s/);
      const revokedSeen = Date.now();
      expect(Date.parse(revoked.revokedAt!) - Date.parse(revoked.lastUsedAt!)).toBeGreaterThanOrEqual(5_000); // not before it had been idle for 5s
      await eventually(async () => (await call(k1)) === 401, 20_000, 'old key gets 401 at the gateway');
      console.info(
        `[rotation-e2e] client switched → predecessor revoked in status: ${revokedSeen - switchedAt} ms (handoff.idle 5s); → 401 at the gateway: ${Date.now() - revokedSeen} ms later`,
      );
      expect(await call(k2)).toBe(200);
      await eventually(
        async () => (await status('checkout'))?.conditions?.find((c) => c.type === 'Rotating' && c.status === 'False'),
        20_000,
        'Rotating=False',
      );
    } finally {
      await client.stop();
    }
    const id2 = (await status('checkout'))!.currentKeyId!;
    console.info(
      `[rotation-e2e] requests: ${client.ok(id1)} ok with the predecessor, ${client.ok(id2)} ok with the successor, ${client.calls.filter((c) => c.status !== 200).length} failed`,
    );
    expect(client.ok(id2)).toBeGreaterThan(10);
    expect(client.failed(id2)).toEqual([]);
    expect(client.failed(id1)).toEqual([]); // it was never used after it stopped being handed out
    expect(
      stack.upstream.seen.every(
        (r) =>
          !String(r.headers.authorization ?? '').includes(id1) && !String(r.headers.authorization ?? '').includes(id2),
      ),
    ).toBe(true);

    // Every step: an Event on the ApiKey and an audit record.
    const ev = await events('checkout');
    const reasons = (keyId: string) =>
      ev
        .filter((e) => e.message?.includes(`key id ${keyId}`))
        .map((e) => e.reason)
        .sort();
    expect(reasons(id2)).toEqual(['KeyIssued']);
    expect(reasons(id1)).toEqual(['KeyIssued', 'KeyRevoked', 'KeySuperseded']);
    const a = audits().filter((r) => r.apiKey === `${NS}/checkout`);
    expect(a).toContainEqual(
      expect.objectContaining({
        action: 'rotate',
        keyId: id2,
        relatedKeyId: id1,
        reason: 'RotationRequested',
        actor: expect.stringMatching(/^user:/),
      }),
    );
    expect(a).toContainEqual(
      expect.objectContaining({
        action: 'revoke',
        keyId: id1,
        relatedKeyId: id2,
        actor: 'operator',
        reason: expect.stringMatching(/hand-off confirmed/),
      }),
    );
  });

  it('a forgotten consumer keeps the predecessor open (its lastUsedAt moving) until maxOverlap revokes it', async () => {
    await createKey('legacy', { idle: '1h', maxOverlap: '20s' });
    const k1 = await issued('legacy');
    const id1 = keyIdOf(k1);
    await eventually(async () => (await call(k1)) === 200, 20_000, 'gateway accepts the first key');
    const forgotten = consumer(gw.url, () => k1);
    let k2: string | undefined;
    const updated = consumer(gw.url, () => k2 ?? k1);
    try {
      await patchMetadata(
        kubeClientFor(kc),
        { apiVersion: API_VERSION, kind: 'ApiKey', namespace: NS, name: 'legacy' },
        { annotations: { [ANNOTATIONS.rotate]: 'forgotten-1' } },
        { fieldManager: 'rotation-test' },
      );
      k2 = await issued('legacy', id1);
      const id2 = keyIdOf(k2);
      const superseded = await eventually(
        async () => {
          const e = await entry('legacy', id1);
          return e?.state === 'Superseded' && e.lastUsedAt && Date.parse(e.lastUsedAt) > Date.parse(e.supersededAt!)
            ? e
            : undefined;
        },
        20_000,
        'predecessor used after supersede',
      );
      const later = await eventually(
        async () => {
          const e = await entry('legacy', id1);
          return e?.lastUsedAt && Date.parse(e.lastUsedAt) > Date.parse(superseded.lastUsedAt!) ? e : undefined;
        },
        20_000,
        'predecessor lastUsedAt moves',
      );
      expect(later.state).toBe('Superseded'); // still valid: the hand-off is not confirmed while it is used
      expect((await status('legacy'))!.conditions).toContainEqual(
        expect.objectContaining({
          type: 'Rotating',
          status: 'True',
          message: expect.stringContaining(`${id1} waits for predecessor ${id1} to stay idle`),
        }),
      );
      const revoked = await eventually(
        async () => {
          const e = await entry('legacy', id1);
          return e?.state === 'Revoked' ? e : undefined;
        },
        60_000,
        'predecessor revoked at maxOverlap',
      );
      expect(revoked.revokedReason).toMatch(/maxOverlap \(20s\) elapsed/);
      expect(Date.parse(revoked.revokedAt!) - Date.parse(revoked.supersededAt!)).toBeGreaterThanOrEqual(20_000);
      await eventually(async () => forgotten.calls.at(-1)?.status === 401, 20_000, 'forgotten consumer gets 401');
      expect(updated.failed(id2)).toEqual([]);
      expect(updated.ok(id2)).toBeGreaterThan(5);
    } finally {
      await forgotten.stop();
      await updated.stop();
    }
    // Until it was revoked, the forgotten consumer never failed.
    const firstFailure = forgotten.calls.findIndex((c) => c.status !== 200);
    expect(forgotten.calls.slice(firstFailure).every((c) => c.status === 401)).toBe(true);
    expect(firstFailure).toBeGreaterThan(10);
  });
});
