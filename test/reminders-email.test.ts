// Expiry reminder emails through a real SMTP server process (docs/design.md §8), on the real API
// server: a key expiring in under a minute gets the reminder of the window it was created in and the
// at-expiry mail, each exactly once, to the union of the key's and the team's contacts — also when the
// operator restarts between them. A mail server that refuses at first is retried with backoff; the
// failure shows in metrics and an Event, and the mail still goes out once.
import { Writable } from 'node:stream';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { crdYaml } from '../api/crd.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { runOperator, type RunningOperator } from '../operator/main.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster } from './support/cluster.ts';
import { eventually } from './support/operator.ts';
import { startSmtpProcess, type SmtpProcess } from './support/smtp.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const RECORDS = `mail-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };

describe.skipIf(!hasCluster())('expiry reminder emails through a real SMTP server', () => {
  const running: RunningOperator[] = [];
  const smtps: SmtpProcess[] = [];
  const custom = () => adminKubeConfig().makeApiClient(CustomObjectsApi);
  const core = () => adminKubeConfig().makeApiClient(CoreV1Api);
  const logs: string[] = [];

  const startOperator = async (ns: string, smtpUrl: string) => {
    const op = await runOperator({
      kubeconfig: clusterKubeconfig(),
      recordsNamespace: RECORDS,
      watchNamespace: ns,
      metricsPort: 0,
      healthPort: 0,
      bindAddress: '127.0.0.1',
      logLevel: 'info',
      leaderElection: false,
      leaseNamespace: RECORDS,
      logDestination: new Writable({
        write(c, _e, cb) {
          logs.push(String(c));
          cb();
        },
      }),
      mail: { url: smtpUrl, from: 'nemokeys@example.com' },
    });
    running.push(op);
    return op;
  };
  /** Team + ApiKey, then the operator; resolves with the issued key id. */
  const setup = async (ns: string, expiresInMs: number, smtpUrl: string) => {
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    for (const n of [ns, RECORDS])
      await core()
        .createNamespace({ body: { metadata: { name: n } } })
        .catch(() => undefined);
    await custom().createNamespacedCustomObject({
      ...AK,
      plural: KINDS.team.plural,
      namespace: ns,
      body: {
        apiVersion: API_VERSION,
        kind: 'Team',
        metadata: { name: 'payments' },
        spec: { allowedModels: ['*'], contacts: ['team@example.com', 'owner@example.com'] },
      },
    });
    const expiration = new Date(Date.now() + expiresInMs).toISOString().replace(/\.\d+Z$/, 'Z');
    await custom().createNamespacedCustomObject({
      ...AK,
      namespace: ns,
      body: {
        apiVersion: API_VERSION,
        kind: 'ApiKey',
        metadata: { name: 'soon' },
        spec: { team: 'payments', expiration, contacts: ['owner@example.com', 'oncall@example.com'] },
      },
    });
    const op = await startOperator(ns, smtpUrl);
    const keyId = await eventually(
      async () =>
        (
          (await custom().getNamespacedCustomObject({ ...AK, namespace: ns, name: 'soon' })) as {
            status?: { currentKeyId?: string };
          }
        ).status?.currentKeyId,
      30_000,
      'key issued',
    );
    return { keyId: keyId!, op };
  };
  const stopAll = async () => {
    await Promise.all(running.splice(0).map((op) => op.stop()));
  };

  afterEach(stopAll);
  afterAll(async () => {
    await stopAll();
    await Promise.all(smtps.map((s) => s.stop()));
  });

  it("a key expiring in under a minute: its window's reminder and the at-expiry mail, once each, across a restart", async () => {
    const ns = `mail-${RUN}`;
    const smtp = await startSmtpProcess();
    smtps.push(smtp);
    const { keyId } = await setup(ns, 40_000, smtp.url);

    const recipients = ['oncall@example.com', 'owner@example.com', 'team@example.com'];
    const first = await eventually(async () => smtp.mails[0], 20_000, 'the reminder mail');
    expect(first.to).toEqual(recipients);
    expect(first.from).toBe('nemokeys@example.com');
    expect(first.subject).toMatch(
      new RegExp(`^\\[nemokeys\\] ApiKey ${ns}/soon \\(key id ${keyId}\\) expires in \\d+ minute\\(s\\)`),
    );
    expect(first.messageId).toBe(`<${keyId}.1d.soon.${ns}@nemokeys>`);
    // The reminders' and the audit trail's controllers read the key controllers' caches: one watch per kind.
    const synced = logs
      .flatMap((c) => c.split('\n'))
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg?: string; informers?: string[] })
      .find((l) => l.msg === 'caches synced; starting workers');
    const watches = (kind: string) => synced?.informers?.filter((n) => n.split('#')[0] === kind);
    expect([watches('apikeys'), watches('teams')]).toEqual([['apikeys'], ['teams']]);

    // Restart between the two mails: the mark on the ApiKey keeps the reminder from going out again.
    await stopAll();
    await startOperator(ns, smtp.url);
    const expired = await eventually(async () => smtp.mails[1], 60_000, 'the at-expiry mail');
    expect(expired.to).toEqual(recipients);
    expect(expired.subject).toBe(`[nemokeys] ApiKey ${ns}/soon (key id ${keyId}) has expired`);

    // Nothing more: another restart, a while of reconciles, still exactly two mails.
    await stopAll();
    await startOperator(ns, smtp.url);
    await new Promise((r) => setTimeout(r, 5_000));
    expect(smtp.mails.map((m) => m.messageId)).toEqual([
      `<${keyId}.1d.soon.${ns}@nemokeys>`,
      `<${keyId}.expired.soon.${ns}@nemokeys>`,
    ]);
    const ak = (await custom().getNamespacedCustomObject({ ...AK, namespace: ns, name: 'soon' })) as {
      metadata: { annotations: Record<string, string> };
    };
    expect(JSON.parse(ak.metadata.annotations[`${GROUP}/reminders-mailed`]!)).toEqual({ [keyId]: ['1d', 'expired'] });
  });

  it('a refusing mail server: retried with backoff, counted, told in an Event, delivered once', async () => {
    const ns = `mail-retry-${RUN}`;
    const smtp = await startSmtpProcess({ failFirst: 2 });
    smtps.push(smtp);
    const { keyId, op } = await setup(ns, 10 * 60_000, smtp.url);

    await eventually(async () => smtp.mails.length === 1, 60_000, 'the mail after two refusals');
    expect(smtp.refused).toBe(2);
    const metrics = await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/nemokeys_reminder_emails_total\{kind="1d",result="failed"\} 2/);
    expect(metrics).toMatch(/nemokeys_reminder_emails_total\{kind="1d",result="sent"\} 1/);
    const events = (await core().listNamespacedEvent({ namespace: ns })).items.filter(
      (e) => e.involvedObject.name === 'soon',
    );
    expect(events.find((e) => e.reason === 'ReminderEmailFailed')?.message).toMatch(
      new RegExp(`key id ${keyId} could not be mailed`),
    );
    expect(events.find((e) => e.reason === 'ReminderEmailSent')?.message).toMatch(/mailed to 3 contact\(s\)/);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(smtp.mails).toHaveLength(1);
  });
});
