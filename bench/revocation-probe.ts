// One revocation measured from the outside: a client polls the gateway back to back with a working
// key; the ApiKey is revoked through the API (merge patch spec.revoked=true, or — with `keyId` — just
// that key id through spec.revokedKeyIds, as `keys revoke --key-id` does); the probe reports when
// the first 401 came, relative to the moment the API server acknowledged the change (and to when the
// patch was sent). Shared by bench/revocation.ts (numbers) and test/revocation-latency.test.ts (every
// revocation must end in a 401 — no timing assertion there).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, KINDS, VERSION } from '../api/constants.ts';

export interface RevocationTry {
  name: string;
  /** Requests answered 200 while polling before the patch was acknowledged. */
  okBefore: number;
  /** Requests answered 200 after the patch was acknowledged (the propagation window). */
  okAfterAck: number;
  /** ms from the API server's acknowledgement of the patch to the first 401. */
  ackTo401Ms: number;
  /** ms from sending the patch to the first 401 (includes the write's own round trip). */
  sendTo401Ms: number;
  /** The first 401's OpenAI-shaped error body. */
  error: { message?: string; type?: string; code?: string };
}

export interface RevocationProbeOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  key: string;
  gatewayUrl: string;
  /** Give up waiting for the 401 after this long (the caller reports it as a failure). */
  timeoutMs?: number;
  /** Revoke only this key id (spec.revokedKeyIds, which must be empty before) instead of the whole ApiKey. */
  keyId?: string;
}

/** Requests after the first 401 that must be 401 too. */
export const STAYS_REVOKED_CHECKS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function status(gatewayUrl: string, key: string): Promise<{ code: number; body: string }> {
  const res = await fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  return { code: res.status, body: await res.text() };
}

export async function measureRevocation(o: RevocationProbeOptions): Promise<RevocationTry> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  // The key must work before we revoke it, or the 401 would prove nothing.
  const warmDeadline = performance.now() + timeoutMs;
  for (;;) {
    const s = await status(o.gatewayUrl, o.key);
    if (s.code === 200) break;
    if (performance.now() > warmDeadline)
      throw new Error(`${o.name}: key never answered 200 (last ${s.code} ${s.body.slice(0, 200)})`);
    await sleep(50);
  }

  let sentAt: number | undefined;
  let ackAt: number | undefined;
  let okBefore = 0;
  let okAfterAck = 0;
  let stop = false;
  const poller = (async () => {
    while (!stop) {
      const s = await status(o.gatewayUrl, o.key);
      const at = performance.now();
      if (s.code === 200) {
        if (ackAt === undefined) okBefore++;
        else okAfterAck++;
        continue;
      }
      if (s.code === 401 && sentAt !== undefined) return { at, body: s.body };
      throw new Error(
        `${o.name}: unexpected ${s.code} ${sentAt === undefined ? 'before' : 'after'} the revocation: ${s.body.slice(0, 200)}`,
      );
    }
    return undefined;
  })();
  poller.catch(() => {});
  while (okBefore < 3) await sleep(5); // the poller is in its stride

  const custom = o.kc.makeApiClient(CustomObjectsApi);
  sentAt = performance.now();
  await custom.patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      plural: KINDS.apiKey.plural,
      namespace: o.namespace,
      name: o.name,
      body: { spec: o.keyId ? { revokedKeyIds: [o.keyId] } : { revoked: true } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  ackAt = performance.now();
  const timer = setTimeout(() => {
    stop = true;
  }, timeoutMs);
  try {
    const first = await poller;
    if (!first)
      throw new Error(
        `${o.name}: no 401 within ${timeoutMs} ms of the revocation (${okAfterAck} requests still allowed)`,
      );
    // Revoked stays revoked: no later request may get through again (e.g. a stale record winning).
    for (let i = 0; i < STAYS_REVOKED_CHECKS; i++) {
      const s = await status(o.gatewayUrl, o.key);
      if (s.code !== 401) throw new Error(`${o.name}: ${s.code} after the first 401 (request ${i + 1} after it)`);
    }
    const parsed = JSON.parse(first.body) as { error?: RevocationTry['error'] };
    return {
      name: o.name,
      okBefore,
      okAfterAck,
      ackTo401Ms: first.at - ackAt,
      sendTo401Ms: first.at - sentAt,
      error: parsed.error ?? {},
    };
  } finally {
    stop = true;
    clearTimeout(timer);
  }
}
