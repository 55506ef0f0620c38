// spec.ipAllowlistFrom end to end (docs/design.md §2) on the real API server with the operator, the gateway
// and the official openai SDK: a CI key whose allowlist is a 5 000-line ConfigMap (as a CI provider
// publishes its ranges). Only the ConfigMap is edited — never the ApiKey (its generation is checked) —
// and the gateway's answer for a request from 127.0.0.1 follows it; a broken line fails closed with a
// condition that names the line.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { API_VERSION, GROUP, KINDS, LABELS, VERSION } from '../api/constants.ts';
import type { RunningGateway } from '../gateway/main.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { createReadyKey, createTeam, eventually, realTimeClock } from './support/operator.ts';
import { type Answer, chatAnswer } from './support/chat.ts';
import { startStack, type Stack } from './support/stack.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `ipfrom-${RUN}`;
const RECORDS = `ipfrom-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const TOKENS_PER_CHAT = 7; // test upstream's usage.total_tokens
const LINES = 5_000;

/** A provider's published ranges: a header, blank lines, IPv4 and IPv6 blocks; `extra` replaces the last one. */
function ranges(extra?: string): string {
  const lines = ['# CI provider ranges, refreshed nightly', ''];
  for (let i = 0; lines.length < LINES - 1; i++) {
    lines.push(
      i % 2
        ? `2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}00::/56`
        : `10.${(i >> 8) & 255}.${i & 255}.0/24`,
    );
  }
  lines.push(extra ?? '192.0.2.0/24');
  return `${lines.join('\n')}\n`;
}

describe.skipIf(!hasCluster())('spec.ipAllowlistFrom: a 5 000-line ConfigMap list, operator → record → gateway', () => {
  let stack: Stack;
  let gw: RunningGateway;
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const chat = (key: string): Promise<Answer> => chatAnswer(gw.url, key);
  const until = (what: string, f: () => Promise<Answer>, expected: Answer) =>
    eventually(
      async () => {
        const a = await f();
        return a.status === expected.status && a.code === expected.code ? a : undefined;
      },
      30_000,
      what,
    );
  const apiKey = async () =>
    (await custom.getNamespacedCustomObject({ ...AK, namespace: NS, name: 'ci-deploy' })) as {
      metadata: { generation: number };
      status?: ApiKeyStatus;
    };
  const ready = async () => (await apiKey()).status?.conditions?.find((c) => c.type === 'Ready');
  const setRanges = (text: string) =>
    core.replaceNamespacedConfigMap({
      namespace: NS,
      name: 'ci-ranges',
      body: { metadata: { name: 'ci-ranges' }, data: { cidrs: text } },
    });

  beforeAll(async () => {
    stack = await startStack({
      recordsNamespace: RECORDS,
      clock: realTimeClock(),
      watchNamespace: NS,
      gatewayId: `ipfrom-${RUN}`,
      reportIntervalMs: 200,
    });
    gw = stack.gw;
    await createTeam(kc, NS, 'ci');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('follows edits of the ConfigMap alone: refused (401, zero credits) → admitted → refused → broken line fails closed', async () => {
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'ci-ranges' }, data: { cidrs: ranges() } },
    });
    const { keyId, key } = await createReadyKey(kc, NS, 'ci-deploy', {
      team: 'ci',
      budget: { credits: 1, period: 'Never' },
      ipAllowlistFrom: [{ configMapKeyRef: { name: 'ci-ranges', key: 'cidrs' } }],
    });
    const generation = (await apiKey()).metadata.generation;

    // The record carries all 5 000 entries and stays far below the 1 MiB object limit.
    const record = await core.readNamespacedSecret({ namespace: RECORDS, name: `nemokeys-key-${keyId}` });
    expect(record.metadata?.labels?.[LABELS.keyId]).toBe(keyId);
    const recordBytes = Buffer.byteLength(JSON.stringify(record.data));
    expect(recordBytes).toBeLessThan(512 * 1024);
    console.log(`record Secret data with ${LINES} CIDR lines: ${recordBytes} bytes`);

    // 127.0.0.1 is not in the list: refused at the gateway, and (budget of 1 credit) at no cost.
    await until('refused: source not in the list', () => chat(key), { status: 401, code: 'ip_not_allowed' });
    for (let i = 0; i < 5; i++) expect(await chat(key)).toEqual({ status: 401, code: 'ip_not_allowed' });

    // The list now contains it: admitted — which a 1-credit budget allows only if the refusals cost nothing.
    await setRanges(ranges('127.0.0.1'));
    await until('admitted: source added to the ConfigMap', () => chat(key), { status: 200 });
    expect(await chat(key)).toEqual({ status: 429, code: 'insufficient_quota' });
    const usage = await eventually(
      async () => {
        const u = (await apiKey()).status?.usage;
        return u?.requests ? u : undefined;
      },
      20_000,
      'usage in status',
    );
    expect(usage).toEqual({ requests: 1, credits: TOKENS_PER_CHAT });

    // Taken out again: refused again.
    await setRanges(ranges());
    await until('refused: source removed from the ConfigMap', () => chat(key), { status: 401, code: 'ip_not_allowed' });

    // A broken line (even with 127.0.0.1 on another line) fails closed: suspended, and Ready names the line.
    const broken = ranges('127.0.0.1').split('\n');
    broken[4321] = '10.0.0.300/24';
    await setRanges(broken.join('\n'));
    const cond = await eventually(
      async () => {
        const c = await ready();
        return c?.reason === 'IpAllowlistUnresolved' ? c : undefined;
      },
      30_000,
      'IpAllowlistUnresolved',
    );
    expect(cond).toMatchObject({
      status: 'False',
      message: expect.stringContaining(
        'ConfigMap ci-ranges key "cidrs": line 4322 ("10.0.0.300/24") is not a CIDR block',
      ),
    });
    await until('suspended at the gateway', () => chat(key), { status: 401, code: 'suspended_api_key' });

    // A missing ConfigMap fails closed the same way.
    await core.deleteNamespacedConfigMap({ namespace: NS, name: 'ci-ranges' });
    await eventually(
      async () => (await ready())?.message?.includes(`ConfigMap ci-ranges not found in namespace ${NS}`),
      30_000,
      'not found condition',
    );
    expect(await chat(key)).toEqual({ status: 401, code: 'suspended_api_key' });

    expect((await apiKey()).metadata.generation).toBe(generation); // the ApiKey was never touched
  }, 180_000);

  it('examples/ci-ranges: the ConfigMap and ApiKey as shipped make a Ready key whose record carries the ranges', async () => {
    const file = resolve(import.meta.dirname, '..', 'examples', 'ci-ranges', 'ci-ranges-key.yaml');
    const [cm, ak] = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
    await custom.createNamespacedCustomObject({
      ...AK,
      plural: KINDS.team.plural,
      namespace: NS,
      body: {
        apiVersion: API_VERSION,
        kind: 'Team',
        metadata: { name: ak.spec.team },
        spec: { allowedModels: ak.spec.allowedModels },
      },
    });
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { ...cm, metadata: { ...cm.metadata, namespace: NS } },
    });
    const { keyId } = await createReadyKey(kc, NS, ak.metadata.name, ak.spec);
    const record = await eventually(async () => gw.records.get(keyId), 30_000, 'record at the gateway');
    expect(record.scopes.ipAllowlist).toEqual(['192.0.2.0/24', '198.51.100.0/24', '2001:db8:ac10::/48']);
  }, 60_000);
});
