// The audit trail on a real API server whose audit webhook posts to the operator (docs/design.md §8):
// changes made as two different (impersonated) users appear in `keys history` with each user's name,
// 127.0.0.1 and the API server's request time; an edit lists the changed fields; the operator's own
// action (expiry) names the operator; the API server keeps serving while the operator is down, and the
// restart leaves no duplicate and no gap. Own control plane: its audit webhook points at this file's
// operator (control plane start ≈ 6 s).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { runHistory } from '../cli/keys/history.ts';
import type { Io } from '../cli/keys/io.ts';
import { auditTrailGuard } from '../controlplane/audit-trail-guard.ts';
import type { ControlPlane } from '../controlplane/controlplane.ts';
import { parseEntries, type TrailEntry } from '../operator/audit/trail.ts';
import { ENTRIES_KEY, trailName } from '../operator/audit/trail-store.ts';
import type { AuditTrailOptions } from '../operator/audit/wiring.ts';
import { runOperator, type RunningOperator } from '../operator/main.ts';
import { startAuditedControlPlane } from './support/audited-control-plane.ts';
import { hasCluster } from './support/cluster.ts';
import { createTeam, eventually } from './support/operator.ts';

const NS = 'audit-trail';
const OPERATOR_NS = 'nemokeys-system';
const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NS}:nemokeys-operator`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const MICROSECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe.skipIf(!hasCluster())('audit trail from kube-apiserver audit events', () => {
  let cp: ControlPlane;
  let audit: AuditTrailOptions;
  let operatorKubeconfig: string;
  let op: RunningOperator | undefined;
  const logs: string[] = [];

  const kubectlAs = (user: string, args: string[], stdin?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(
        cp.kubectl,
        ['--kubeconfig', cp.kubeconfigPath, '--as', user, '--as-group', 'system:masters', '-n', NS, ...args],
        (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout)),
      );
      if (stdin !== undefined) child.stdin?.end(stdin);
    });
  /** Runs a change as `user`; returns the wall-clock interval around it (the API server's receive time is inside). */
  const timed = async (user: string, args: string[], stdin?: string) => {
    const before = Date.now();
    await kubectlAs(user, args, stdin);
    return { before, after: Date.now() };
  };
  const history = async (name: string): Promise<TrailEntry[]> => {
    let out = '';
    const io: Io = {
      out: (t) => {
        out += t;
      },
      err: () => {},
      now: () => new Date(),
      sleep: async () => {},
    };
    await runHistory(name, { kubeconfig: cp.kubeconfigPath, namespace: NS, output: 'json' }, io);
    return JSON.parse(out) as TrailEntry[];
  };
  const historyTable = async (name: string): Promise<string> => {
    let out = '';
    const io: Io = {
      out: (t) => {
        out += t;
      },
      err: () => {},
      now: () => new Date(),
      sleep: async () => {},
    };
    await runHistory(name, { kubeconfig: cp.kubeconfigPath, namespace: NS }, io);
    return out;
  };
  const apiKey = (name: string, spec: object) =>
    JSON.stringify({ apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name, namespace: NS }, spec });
  const status = async (name: string) =>
    (
      (await cp
        .kubeConfig()
        .makeApiClient(CustomObjectsApi)
        .getNamespacedCustomObject({ ...AK, namespace: NS, name })) as {
        status?: { currentKeyId?: string; keys?: { id: string }[] };
      }
    ).status;
  const startOperator = async () => {
    op = await runOperator({
      kubeconfig: operatorKubeconfig,
      recordsNamespace: OPERATOR_NS,
      metricsPort: 0,
      healthPort: 0,
      bindAddress: '127.0.0.1',
      logLevel: 'info',
      leaderElection: false,
      leaseNamespace: OPERATOR_NS,
      logDestination: new Writable({
        write(chunk, _e, cb) {
          logs.push(...String(chunk).split('\n').filter(Boolean));
          cb();
        },
      }),
      audit: { ...audit, observedGraceMs: 8_000 },
    });
  };
  const inWindow = (e: TrailEntry | undefined, w: { before: number; after: number }) => {
    expect(e?.time).toMatch(MICROSECONDS);
    const t = Date.parse(e!.time);
    expect(t).toBeGreaterThanOrEqual(w.before - 1);
    expect(t).toBeLessThanOrEqual(w.after + 1);
  };

  beforeAll(async () => {
    // With the audit trail guard, as a chart install has it: only the operator's ServiceAccount writes trails.
    ({ cp, audit } = await startAuditedControlPlane(
      auditTrailGuard({ name: 'nemokeys-audit-trail-guard', operatorUser: OPERATOR_USER }).map((o) => stringify(o)),
    ));
    // The operator runs as its own ServiceAccount: its requests are told apart from people's.
    const saKc = await cp.serviceAccountKubeConfig(OPERATOR_NS, 'nemokeys-operator');
    await cp
      .kubeConfig()
      .makeApiClient(RbacAuthorizationV1Api)
      .createClusterRoleBinding({
        body: {
          metadata: { name: 'nemokeys-operator-audit-test' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
          subjects: [{ kind: 'ServiceAccount', name: 'nemokeys-operator', namespace: OPERATOR_NS }],
        },
      });
    operatorKubeconfig = join(cp.dir, 'operator.kubeconfig');
    writeFileSync(operatorKubeconfig, saKc.exportConfig());
    await createTeam(cp.kubeConfig(), NS, 'payments');
    await startOperator();
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('names each user, 127.0.0.1 and the request time; lists changed fields; names the operator for its own actions', async () => {
    const created = await timed('alice', ['apply', '-f', '-'], apiKey('svc', { team: 'payments' }));
    const first = (await eventually(async () => (await status('svc'))?.currentKeyId, 30_000, 'svc issued'))!;
    const edited = await timed('bob', [
      'patch',
      'apikey',
      'svc',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { allowedModels: ['gpt-4o'], rateLimit: { requestsPerMinute: 60 } } }),
    ]);
    const rotated = await timed('alice', ['annotate', 'apikey', 'svc', `${GROUP}/rotate=r1`]);
    await eventually(async () => ((await status('svc'))?.keys?.length ?? 0) >= 2, 30_000, 'successor issued');
    const revoked = await timed('bob', [
      'patch',
      'apikey',
      'svc',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { revokedKeyIds: [first] } }),
    ]);

    const entries = await eventually(
      async () => {
        const h = await history('svc');
        return h.length >= 4 ? h : undefined;
      },
      30_000,
      '4 entries',
    );
    expect(entries.map((e) => [e.action, e.actor, e.sourceIp, e.impersonatedBy])).toEqual([
      ['create', 'alice', '127.0.0.1', 'nemokeys-admin'],
      ['edit', 'bob', '127.0.0.1', 'nemokeys-admin'],
      ['rotate', 'alice', '127.0.0.1', 'nemokeys-admin'],
      ['revoke-key-id', 'bob', '127.0.0.1', 'nemokeys-admin'],
    ]);
    expect(entries[0]!.groups).toContain('system:masters');
    expect(entries[1]!.fields).toEqual(['spec.allowedModels', 'spec.rateLimit.requestsPerMinute']);
    expect(entries[2]!.fields).toEqual([`metadata.annotations[${GROUP}/rotate]`]);
    expect(entries[3]!.keyId).toBe(first);
    // the create names the key the operator issued for it; the rotate its successor (and predecessor)
    const successor = (await status('svc'))?.currentKeyId;
    expect(successor).not.toBe(first);
    const named = (h: TrailEntry[]) => [h[0]?.keyId, h[2]?.keyId, h[2]?.predecessorKeyId];
    let last: TrailEntry[] = [];
    await eventually(
      async () => {
        last = await history('svc');
        return named(last).join() === [first, successor, first].join();
      },
      30_000,
      'create and rotate name the issued key ids',
    ).catch(() => {});
    expect(named(last)).toEqual([first, successor, first]);
    for (const [i, w] of [created, edited, rotated, revoked].entries()) inWindow(entries[i], w);
    // the JSON audit stream carries the same entries
    const stream = logs.filter((l) => l.includes('"stream":"audit"') && l.includes('"object":"audit-trail/svc"'));
    expect(stream.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(entries.map((e) => e.id));

    // Teams have their trail too. (Its creation by the admin, before the operator was up, may be there
    // first: kube-apiserver's retries may or may not have reached the starting operator.)
    const teamEdit = await timed('alice', [
      'patch',
      'team',
      'payments',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { allowedModels: ['*', 'gpt-4o'] } }),
    ]);
    const teamTrail = await eventually(
      async () => {
        const cm = await cp
          .kubeConfig()
          .makeApiClient(CoreV1Api)
          .readNamespacedConfigMap({ namespace: NS, name: trailName('Team', 'payments') })
          .catch(() => undefined);
        const list = parseEntries(cm?.data?.[ENTRIES_KEY]).entries;
        return list.some((e) => e.actor === 'alice') ? list : undefined;
      },
      30_000,
      'team trail',
    );
    const teamEdits = teamTrail.filter((e) => e.action === 'edit');
    expect(teamEdits.map((e) => [e.actor, e.sourceIp, e.fields])).toEqual([
      ['alice', '127.0.0.1', ['spec.allowedModels']],
    ]);
    expect(teamTrail.at(-1)).toBe(teamEdits[0]);
    // the creation: recorded from its audit event, or (event dropped) as unaudited when alice's edit came
    const creation = teamTrail.filter((e) => e.action !== 'edit');
    expect(creation.length).toBeLessThanOrEqual(1);
    if (creation[0])
      expect([creation[0].action, ['nemokeys-admin', 'unknown'].includes(creation[0].actor)]).toEqual(['create', true]);
    inWindow(teamEdits[0], teamEdit);

    const table = await historyTable('svc');
    expect(table).toMatch(/^TIME\s+ACTION\s+KEY ID\s+ACTOR\s+SOURCE IP\s+DETAILS/);
    expect(table).toContain('bob (as impersonated by nemokeys-admin)');

    // The operator's own action: expiry, named as the operator with its reason.
    const soon = new Date(Date.now() + 6_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await timed('alice', ['apply', '-f', '-'], apiKey('short', { team: 'payments', expiration: soon }));
    const short = await eventually(
      async () => {
        const h = await history('short');
        return h.some((e) => e.action === 'expire') ? h : undefined;
      },
      40_000,
      'expire entry',
    );
    expect(short.map((e) => [e.action, e.actor])).toEqual([
      ['create', 'alice'],
      ['expire', `nemokeys-operator (${OPERATOR_USER})`],
    ]);
    expect(short[1]!.sourceIp).toBeUndefined();
    expect(short[1]!.reason).toMatch(/^expired at /);
    expect(short[1]!.keyId).toBe((await status('short'))?.currentKeyId);
  });

  it('the API server serves ApiKey changes while the operator is down; the restart adds no duplicate and leaves no gap', async () => {
    const before = await history('svc');
    await op!.stop();
    op = undefined;
    await timed('bob', [
      'patch',
      'apikey',
      'svc',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { ipAllowlist: ['10.0.0.0/8'] } }),
    ]);
    expect(
      (
        (await cp
          .kubeConfig()
          .makeApiClient(CustomObjectsApi)
          .getNamespacedCustomObject({ ...AK, namespace: NS, name: 'svc' })) as { spec: { ipAllowlist?: string[] } }
      ).spec.ipAllowlist,
    ).toEqual(['10.0.0.0/8']);
    await startOperator();

    // kube-apiserver does not retry a refused connection: the change is found by comparing the ApiKey
    // with its trail, and recorded once with what is known (the field manager; the IP is unknown).
    const after = await eventually(
      async () => {
        const h = await history('svc');
        return h.length > before.length ? h : undefined;
      },
      30_000,
      'the change made while the operator was down',
    );
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after).toHaveLength(before.length + 1);
    const gap = after.at(-1)!;
    expect(gap.fields).toEqual(['spec.ipAllowlist']);
    expect(gap.action).toBe('edit');
    // Either kube-apiserver's retries reached the restarted operator (bob, from 127.0.0.1), or the event was
    // dropped and the change was found by comparing the ApiKey with its trail (field manager, IP unknown).
    if (gap.sourceIp === undefined) expect(gap.actor).toMatch(/^kubectl.* \(field manager; no audit event\)$/);
    else expect([gap.actor, gap.sourceIp]).toEqual(['bob', '127.0.0.1']);

    // Nothing more turns up later (no second entry for the same change from a late audit event).
    await new Promise((r) => setTimeout(r, 10_000));
    expect(await history('svc')).toEqual(after);
    expect(new Set(after.map((e) => e.id)).size).toBe(after.length);
  });

  it('a change missed while the operator was down, followed at once by an audited one: both in the trail, once', async () => {
    const before = await history('svc');
    await op!.stop();
    op = undefined;
    await timed('bob', [
      'patch',
      'apikey',
      'svc',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { ipAllowlist: ['10.0.0.0/8', '192.168.0.0/16'] } }),
    ]);
    // Longer than kube-apiserver's retries (5 tries, 1 s ×1.5 apart ≈ 8 s): bob's audit event is dropped.
    await new Promise((r) => setTimeout(r, 15_000));
    await startOperator();
    const edited = await timed('alice', [
      'patch',
      'apikey',
      'svc',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { rateLimit: { tokensPerMinute: 1000 } } }),
    ]);
    const after = await eventually(
      async () => {
        const h = await history('svc');
        return h.length >= before.length + 2 ? h : undefined;
      },
      30_000,
      'two new entries',
    );
    expect(after.slice(0, before.length)).toEqual(before);
    const [missed, audited] = after.slice(before.length);
    expect(audited).toMatchObject({
      action: 'edit',
      actor: 'alice',
      sourceIp: '127.0.0.1',
      fields: ['spec.rateLimit.tokensPerMinute'],
    });
    inWindow(audited, edited);
    // kube-apiserver dropped the missed change's event (refused connection): what is known, and no invented IP.
    expect(missed).toMatchObject({ action: 'edit', actor: 'unknown' });
    expect(missed!.sourceIp).toBeUndefined();
    expect(missed!.reason).toMatch(/no audit event reached the operator/);
    // The grace period passes: the observed-changes check finds nothing left to record.
    await new Promise((r) => setTimeout(r, 10_000));
    expect(await history('svc')).toHaveLength(before.length + 2);
  });
});
