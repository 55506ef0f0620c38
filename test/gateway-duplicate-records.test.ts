// docs/design.md §4: two records claiming one key id fail closed, through the real gateway with the openai
// SDK. A directory with two files for one key id (a revoking file next to a stale copy, or a planted file
// with wider scopes next to the real one) and a record Secret planted under another name on the real API
// server: the key gets 401 while both exist, the metric counts the conflict, the log names the key id and
// never the key, and the key works again once the duplicate is gone.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_MANAGER } from '../api/constants.ts';
import type { KeyRecord } from '../api/record.ts';
import { startDemoUpstream, type DemoUpstream } from '../gateway/demo-upstream.ts';
import { runGateway, type RunningGateway } from '../gateway/main.ts';
import { makeKeyAndRecord, recordSecretManifest } from '../gateway/sources/testing.ts';
import { capturedLogger } from '../gateway/testing-log.ts';
import { applyObject, deleteIfExists } from '../kube/apply.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';

const uniq = () => Math.random().toString(36).slice(2, 8);

/** The SDK's answer to one completion: 200, or the status and error code it raised. */
async function answer(gw: RunningGateway, key: string): Promise<string> {
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
  try {
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    return '200';
  } catch (err) {
    const e = err as { status?: number; code?: string };
    return `${e.status} ${e.code}`;
  }
}

async function conflictsMetric(gw: RunningGateway): Promise<string | undefined> {
  const text = await (await fetch(`${gw.metricsUrl}/metrics`)).text();
  return /^nemokeys_gateway_records_conflicting (\d+)$/m.exec(text)?.[1];
}

const poll = { timeout: 10_000, interval: 50 };

describe('duplicate records in a --records-dir fail closed', () => {
  let dir: string;
  let upstream: DemoUpstream;
  let gw: RunningGateway;
  const log = capturedLogger('trace');
  const alice = makeKeyAndRecord({ scopes: { models: ['gpt-4o-mini'] } });
  const write = (name: string, record: KeyRecord) => writeFileSync(join(dir, name), JSON.stringify(record));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nemokeys-dup-'));
    write('alice.json', alice.record);
    upstream = await startDemoUpstream();
    const listen = { host: '127.0.0.1', port: 0 };
    gw = await runGateway({ upstream: upstream.url, recordsDir: dir, listen, metricsPort: 0, logger: log.logger });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['a revoking file sorted after the stale one', 'zz-revoke.json', { ...alice.record, state: 'Revoked' as const }],
    [
      'a planted file with wider scopes, sorted first',
      '00-planted.json',
      { ...alice.record, scopes: { ...alice.record.scopes, models: ['*'] } },
    ],
  ])('%s: 401 while both files exist, 200 again once the duplicate is removed', async (_label, name, duplicate) => {
    expect(await answer(gw, alice.key)).toBe('200');
    write(name, duplicate);
    await expect.poll(() => answer(gw, alice.key), poll).toBe('401 revoked_api_key');
    expect(await conflictsMetric(gw)).toBe('1');
    expect(log.text()).toContain(`key id ${alice.record.keyId} is also defined by`);

    unlinkSync(join(dir, name));
    await expect.poll(() => answer(gw, alice.key), poll).toBe('200');
    expect(await conflictsMetric(gw)).toBe('0');
  });

  it('no log line holds the key', () => {
    expect(log.text()).not.toContain(alice.key.slice(-20));
  });
});

describe.skipIf(!hasCluster())('a record Secret planted under another name on the real API server fails closed', () => {
  const namespace = `gw-dup-${uniq()}`;
  let admin: KubeConfig;
  let upstream: DemoUpstream;
  let gw: RunningGateway;
  const log = capturedLogger('trace');
  const alice = makeKeyAndRecord({ scopes: { models: ['gpt-4o-mini'] } });
  const planted = () => {
    const s = recordSecretManifest({ ...alice.record, scopes: { ...alice.record.scopes, models: ['*'] } }, namespace);
    return { ...s, metadata: { ...s.metadata, name: `planted-${uniq()}` } };
  };

  beforeAll(async () => {
    admin = adminKubeConfig();
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    await applyObject(kubeClientFor(admin), recordSecretManifest(alice.record, namespace), {
      fieldManager: FIELD_MANAGER,
    });
    upstream = await startDemoUpstream();
    gw = await runGateway({
      upstream: upstream.url,
      recordsNamespace: namespace,
      kubeConfig: admin,
      listen: { host: '127.0.0.1', port: 0 },
      metricsPort: 0,
      gatewayId: `gw-${uniq()}`,
      logger: log.logger,
      informer: { backoff: { baseMs: 100, maxMs: 500 }, watchdogMs: 5_000 },
    });
    await gw.synced;
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    await admin
      ?.makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => {});
  });

  it('two record Secrets for one key id: 401 while both exist, 200 again once the planted one is deleted', async () => {
    expect(await answer(gw, alice.key)).toBe('200');
    const secret = planted();
    await applyObject(kubeClientFor(admin), secret, { fieldManager: FIELD_MANAGER });
    await expect.poll(() => answer(gw, alice.key), poll).toBe('401 revoked_api_key');
    expect(await conflictsMetric(gw)).toBe('1');
    expect(log.text()).toContain('its key id is refused while it exists');

    await deleteIfExists(kubeClientFor(admin), {
      apiVersion: 'v1',
      kind: 'Secret',
      name: secret.metadata.name,
      namespace,
    });
    await expect.poll(() => answer(gw, alice.key), poll).toBe('200');
    expect(await conflictsMetric(gw)).toBe('0');
    expect(log.text()).not.toContain(alice.key.slice(-20));
  });
});
