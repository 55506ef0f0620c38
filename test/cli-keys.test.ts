// `nemokeys keys …` as a user runs it: a child process against the shared real API server. No operator
// runs here: every status is produced by the operator's planner (operator/apikey/plan.ts, through
// operator/apikey/testing.ts) and written via /status, never hand-built (docs/design.md §6).
import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS, GROUP, KINDS, VERSION, type ApiKeySpecInput, type ApiKeyStatus } from '../api/index.ts';
import type { KeyUsage } from '../api/index.ts';
import type { GeneratedKey } from '../api/keyformat.ts';
import type { TeamSpec } from '../api/team.ts';
import type { PlanInputs } from '../operator/apikey/types.ts';
import { crdYaml } from '../api/crd.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster } from './support/cluster.ts';
import type { ApiKeyObject } from '../cli/keys/model.ts';
import { cells, interferingProxy, runKeys } from '../cli/keys/testing-process.ts';
import {
  apiKey as plannedApiKey,
  inputs,
  reconcileUntilQuiet,
  team,
  testKeys,
  withSpec,
} from '../operator/apikey/testing.ts';

const suffix = randomBytes(3).toString('hex');
const NS = `cli-keys-${suffix}`;
const NS2 = `cli-keys-b-${suffix}`;
const RES = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const MINUTE = 60_000;
const DAY = 86_400_000;
const minutesAgo = (m: number) => new Date(Date.now() - m * MINUTE).toISOString();
const mintedKeys = testKeys(77); // one generator: every key minted in this file is distinct

/** One reconcile of the operator's planner, `agoMs` before now, after a rotate request or new usage. */
type Step = { agoMs: number; rotate?: string; usage?: (keys: readonly GeneratedKey[]) => Map<string, KeyUsage> };

/** The operator's planner reconciling an ApiKey through `steps`: the inputs it ends with, the keys it minted. */
function planned(name: string, spec: ApiKeySpecInput, teamSpec: Partial<TeamSpec>, steps: Step[]) {
  const apiKey = plannedApiKey(spec, { name });
  let inp: PlanInputs = inputs({ namespace: NS, name, apiKey, team: team(teamSpec, spec.team) });
  const minted: GeneratedKey[] = [];
  const now = Date.now();
  for (const step of steps) {
    if (step.rotate) inp = withSpec(inp, {}, { [ANNOTATIONS.rotate]: step.rotate });
    if (step.usage) inp = { ...inp, usage: step.usage(minted) };
    const r = reconcileUntilQuiet(inp, new Date(now - step.agoMs), mintedKeys);
    inp = r.inp;
    minted.push(...r.minted);
  }
  return { inp, minted };
}

const PROD_SPEC: ApiKeySpecInput = {
  team: 'checkout',
  environment: 'prod',
  allowedModels: ['gpt-4o-mini', 'gpt-5'],
  allowedEndpoints: ['/chat/completions'],
  ipAllowlist: ['10.0.0.0/8'],
  expiration: '90d',
  secret: { name: 'checkout-llm', key: 'OPENAI_API_KEY' },
  rotation: { automatic: true, before: '14d', handoff: { idle: '2h' } },
  rateLimit: { requestsPerMinute: 60 },
  budget: { credits: 100000, period: 'Monthly' },
};
/** Issued 20 days ago, rotated 10 minutes ago; the predecessor was last used 30 minutes ago: handing off. */
const prodLineage = () =>
  planned('prod-checkout', PROD_SPEC, { allowedModels: ['gpt-4o-mini'] }, [
    { agoMs: 20 * DAY },
    { agoMs: 10 * MINUTE, rotate: 'r1' },
    {
      agoMs: 0,
      usage: ([old, cur]) =>
        new Map([
          [old!.keyId, { requests: 1000, credits: 90000, lastUsedAt: minutesAgo(30) }],
          [cur!.keyId, { requests: 234, credits: 8765, lastUsedAt: minutesAgo(5.5) }],
        ]),
    },
  ]);

describe.skipIf(!hasCluster())('nemokeys keys against the real API server', () => {
  const custom = () => adminKubeConfig().makeApiClient(CustomObjectsApi);
  const keys = (args: string[]) => runKeys(args, clusterKubeconfig());
  const read = (name: string, namespace = NS) =>
    custom().getNamespacedCustomObject({ ...RES, namespace, name }) as Promise<ApiKeyObject>;
  const create = (name: string, spec: ApiKeySpecInput, namespace = NS) =>
    custom().createNamespacedCustomObject({
      ...RES,
      namespace,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'ApiKey', metadata: { name }, spec },
    });
  const patchStatus = (name: string, status: ApiKeyStatus, namespace = NS) =>
    custom().patchNamespacedCustomObjectStatus(
      { ...RES, namespace, name, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  // prod-checkout as the planner left it, and its key ids: predecessor, current, and (after --wait) successor.
  let prod: PlanInputs;
  let OLD: GeneratedKey;
  let CUR: GeneratedKey;
  let NEXT: GeneratedKey | undefined;
  const prodKeyIds = () => [OLD.keyId, CUR.keyId, NEXT?.keyId];

  beforeAll(async () => {
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    for (const name of [NS, NS2]) await core.createNamespace({ body: { metadata: { name } } });
    // Created out of order: the CLI sorts.
    await create('stage-checkout', { team: 'checkout', environment: 'stage' });
    await create('prod-checkout', PROD_SPEC);
    await create('dev-checkout', { team: 'checkout', environment: 'dev' });
    await create('dev-search', { team: 'search' }, NS2);
    const lineage = prodLineage();
    [prod, OLD, CUR] = [lineage.inp, lineage.minted[0]!, lineage.minted[1]!];
    await patchStatus('prod-checkout', prod.apiKey!.status!);
  });

  describe('list', () => {
    it('-n shows one row per ApiKey, sorted by name, with every column', async () => {
      const r = await keys(['list', '-n', NS]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [header, ...rows] = r.stdout.trimEnd().split('\n').map(cells);
      expect(header).toEqual([
        'NAME',
        'TEAM',
        'ENV',
        'MODELS',
        'ENDPOINTS',
        'IPS',
        'CURRENT KEY',
        'SUPERSEDED',
        'STATE',
        'EXPIRES',
        'LAST USED',
        'REQUESTS',
        'CREDITS',
      ]);
      expect(rows.map((row) => row[0])).toEqual(['dev-checkout', 'prod-checkout', 'stage-checkout']);
      expect(rows[1]).toEqual([
        'prod-checkout',
        'checkout',
        'prod',
        'gpt-4o-mini,gpt-5',
        '/chat/completions',
        '10.0.0.0/8',
        `${CUR.keyId} …${CUR.hint}`,
        OLD.keyId,
        'Rotating',
        expect.stringMatching(/^in (89|90)d$/),
        '5m ago',
        '1234',
        '98765',
      ]);
      expect(rows[0]).toEqual([
        'dev-checkout',
        'checkout',
        'dev',
        '(team)',
        '(team)',
        '(team)',
        '<none>',
        '-',
        'Pending',
        'Never',
        'never',
        '0',
        '0',
      ]);
    });

    it('-A adds NAMESPACE and spans namespaces, still sorted by name', async () => {
      const r = await keys(['list', '-A']);
      expect(r.code).toBe(0);
      const [header, ...rows] = r.stdout.trimEnd().split('\n').map(cells);
      expect(header?.slice(0, 3)).toEqual(['NAMESPACE', 'NAME', 'TEAM']);
      const mine = rows.filter((row) => row[0] === NS || row[0] === NS2).map((row) => `${row[0]}/${row[1]}`);
      expect(mine).toEqual([`${NS}/dev-checkout`, `${NS2}/dev-search`, `${NS}/prod-checkout`, `${NS}/stage-checkout`]);
    });

    it('-o json is a parseable document with lineage and no annotations', async () => {
      const r = await keys(['list', '-n', NS, '-o', 'json']);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as {
        items: { name: string; state: string; keys: { id: string; state: string }[]; secret: object }[];
      };
      expect(doc.items.map((i) => i.name)).toEqual(['dev-checkout', 'prod-checkout', 'stage-checkout']);
      const prod = doc.items[1];
      expect(prod?.keys.map((k) => [k.id, k.state])).toEqual([
        [OLD.keyId, 'Superseded'],
        [CUR.keyId, 'Active'],
      ]);
      expect(prod?.secret).toEqual({ name: 'checkout-llm', key: 'OPENAI_API_KEY' });
      expect(r.stdout).not.toContain('managedFields');
    });

    it('an empty namespace says so on stderr and succeeds', async () => {
      const r = await keys(['list', '-n', 'default']);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('No ApiKeys found in namespace "default"');
    });
  });

  describe('describe', () => {
    it('shows scopes, what the team refused, limits, rotation, lineage, conditions and the Secret', async () => {
      const r = await keys(['describe', 'prod-checkout', '-n', NS]);
      expect(r.code).toBe(0);
      const text = r.stdout;
      expect(text).toMatch(/^Team:\s+checkout$/m);
      expect(text).toMatch(/^ {2}Models:\s+gpt-4o-mini, gpt-5$/m);
      expect(text).toMatch(
        /Scopes refused[^\n]*\n {2}Ready\/ScopesRestricted: .*Team "checkout" does not allow models gpt-5,/,
      );
      expect(text).toMatch(/^Rotation:\s+automatic, 14d before expiry; hand-off after 2h idle, at most 7d overlap$/m);
      expect(text).toMatch(/^Rate limit:\s+60 requests\/min$/m);
      expect(text).toMatch(/^Budget:\s+100000 credits per month$/m);
      expect(text).toMatch(/^Secret:\s+checkout-llm \(data key OPENAI_API_KEY\)/m);
      expect(text).toMatch(
        new RegExp(
          `^ {2}${OLD.keyId}\\s+…${OLD.hint}\\s+Superseded\\s+20d ago\\s+in (69|70)d\\s+30m ago\\s+1000\\s+90000`,
          'm',
        ),
      );
      expect(text).toMatch(
        new RegExp(
          `^ {2}${CUR.keyId} \\(current\\)\\s+…${CUR.hint}\\s+Active\\s+10m ago\\s+in (89|90)d\\s+5m ago\\s+234\\s+8765`,
          'm',
        ),
      );
      expect(text).toMatch(/^ {2}Rotating\s+True\s+HandoffPending\s+10m ago\s+predecessor/m);
    });

    it('-o json carries the same facts', async () => {
      const r = await keys(['describe', 'prod-checkout', '-n', NS, '-o', 'json']);
      const doc = JSON.parse(r.stdout) as {
        name: string;
        currentKeyId: string;
        rotation: { before: string };
        budget: object;
      };
      expect(doc).toMatchObject({
        name: 'prod-checkout',
        currentKeyId: CUR.keyId,
        rotation: { before: '14d' },
        budget: { credits: 100000, period: 'Monthly' },
      });
    });
  });

  describe('rotate', () => {
    it('sets the rotate annotation to a fresh RFC 3339 value every time and explains the hand-off', async () => {
      const first = await keys(['rotate', 'stage-checkout', '-n', NS]);
      expect(first.code).toBe(0);
      expect(first.stdout).toContain('successor key with a new key id and the same scopes');
      expect(first.stdout).toContain('switches Secret stage-checkout (data key api-key)');
      const v1 = (await read('stage-checkout')).metadata.annotations?.[ANNOTATIONS.rotate];
      expect(v1).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect((await keys(['rotate', 'stage-checkout', '-n', NS])).code).toBe(0);
      const v2 = (await read('stage-checkout')).metadata.annotations?.[ANNOTATIONS.rotate];
      expect(v2).not.toBe(v1);
      expect(Date.parse(v2 ?? '')).toBeGreaterThan(Date.parse(v1 ?? ''));
    });

    it('--wait returns the successor key id once status.currentKeyId moves', async () => {
      const before = (await read('prod-checkout')).metadata.annotations?.[ANNOTATIONS.rotate];
      const running = keys(['rotate', 'prod-checkout', '-n', NS, '--wait', '--timeout', '60s']);
      // Play the operator: once the request is visible, its planner serves it.
      let request: string | undefined;
      for (let i = 0; i < 200; i++) {
        request = (await read('prod-checkout')).metadata.annotations?.[ANNOTATIONS.rotate];
        if (request !== before) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const requested = withSpec(prod, {}, { [ANNOTATIONS.rotate]: request! });
      const served = reconcileUntilQuiet(requested, new Date(), mintedKeys);
      NEXT = served.minted[0]!;
      await patchStatus('prod-checkout', served.inp.apiKey!.status!);
      const r = await running;
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`current key ${CUR.keyId} …${CUR.hint} valid (Superseded)`);
      expect(r.stdout).toContain(
        `New current key id: ${NEXT.keyId} …${NEXT.hint} (the previous key ${CUR.keyId} stays valid until the hand-off)`,
      );
    });

    it('--wait gives up after --timeout with a non-zero exit and says what to check', async () => {
      const r = await keys(['rotate', 'dev-checkout', '-n', NS, '--wait', '--timeout', '2s']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(
        /timed out after 2s: status.currentKeyId of .*dev-checkout is still <none>. Is the nemokeys operator running\?/,
      );
    });
  });

  describe('revoke', () => {
    // Manual hand-off: every predecessor stays Superseded until revoked.
    const MANUAL: ApiKeySpecInput = { team: 'checkout', rotation: { handoff: { mode: 'Manual' } } };
    /** Issued 100 minutes ago and rotated `rotations` times since: the key ids, oldest first. */
    async function plannedRotations(name: string, rotations: number): Promise<string[]> {
      const rotate = (i: number): Step => ({ agoMs: (rotations - i) * MINUTE, rotate: `r${i}` });
      const steps = Array.from({ length: rotations }, (_, i) => rotate(i));
      const { inp, minted } = planned(name, MANUAL, {}, [{ agoMs: 100 * MINUTE }, ...steps]);
      await create(name, MANUAL);
      await patchStatus(name, inp.apiKey!.status!);
      return minted.map((k) => k.keyId);
    }
    let OLD: string, _THIRD: string, _FOURTH: string, CUR: string;
    beforeAll(async () => {
      [OLD, _THIRD, _FOURTH, CUR] = (await plannedRotations('rev-keys', 3)) as [string, string, string, string];
      await create('rev-all', { team: 'checkout' });
    });

    it('--key-id adds the id to spec.revokedKeyIds, once', async () => {
      const r = await keys(['revoke', 'rev-keys', '-n', NS, '--key-id', OLD]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Key id ${OLD} of ApiKey ${NS}/rev-keys revoked`);
      expect((await read('rev-keys')).spec?.revokedKeyIds).toEqual([OLD]);
      const again = await keys(['revoke', 'rev-keys', '-n', NS, '--key-id', OLD]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('already revoked');
      expect((await read('rev-keys')).spec?.revokedKeyIds).toEqual([OLD]);
    });

    it('--key-id re-reads and retries when someone else changed the ApiKey between its read and write', async () => {
      const [OLD, THIRD] = (await plannedRotations('rev-race', 2)) as [string, string];
      let interfered = 0;
      const proxy = await interferingProxy(adminKubeConfig(), async (path) => {
        if (!path.includes('/rev-race') || interfered++ > 0) return;
        // Another writer revokes THIRD after the CLI read the ApiKey, before its write arrives.
        await custom().patchNamespacedCustomObject(
          { ...RES, namespace: NS, name: 'rev-race', body: { spec: { revokedKeyIds: [THIRD] } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      });
      try {
        const r = await runKeys(['revoke', 'rev-race', '-n', NS, '--key-id', OLD], proxy.kubeconfig);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      } finally {
        await proxy.close();
      }
      // A stale write would have replaced the list and silently un-revoked THIRD.
      expect(interfered).toBe(2);
      expect((await read('rev-race')).spec?.revokedKeyIds).toEqual([THIRD, OLD]);
    });

    it('warns when the revoked id is the current key', async () => {
      const r = await keys(['revoke', 'rev-keys', '-n', NS, '--key-id', CUR]);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`Warning: ${CUR} is the current key in Secret rev-keys`);
    });

    it('an unknown key id is an error listing the known ids, and changes nothing', async () => {
      const before = (await read('rev-all')).metadata.resourceVersion;
      const r = await keys(['revoke', 'rev-all', '-n', NS, '--key-id', 'zzzzzzzzzzzzzzzz']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('has no key id "zzzzzzzzzzzzzzzz"');
      expect(r.stderr).toContain('no key ids yet');
      const known = await keys(['revoke', 'prod-checkout', '-n', NS, '--key-id', 'zzzzzzzzzzzzzzzz']);
      const [old, cur, next] = prodKeyIds();
      expect(known.stderr).toMatch(
        new RegExp(`Known key ids: ${old} \\(Superseded\\), ${cur} \\(Superseded\\), ${next} \\(Active\\)`),
      );
      expect((await read('rev-all')).metadata.resourceVersion).toBe(before);
    });

    it('without --key-id sets spec.revoked, and says so when already revoked', async () => {
      const r = await keys(['revoke', 'rev-all', '-n', NS]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`ApiKey ${NS}/rev-all revoked (spec.revoked=true)`);
      expect((await read('rev-all')).spec?.revoked).toBe(true);
      expect((await keys(['revoke', 'rev-all', '-n', NS])).stdout).toContain('already revoked');
      const rotate = await keys(['rotate', 'rev-all', '-n', NS]);
      expect(rotate.code).not.toBe(0);
      expect(rotate.stderr).toContain('is revoked (spec.revoked=true): there is no key to rotate');
    });
  });

  describe('duplicate', () => {
    it('copies the spec with a new name and Secret, not the status or revocations', async () => {
      const orig = await read('prod-checkout');
      const r = await keys(['duplicate', 'prod-checkout', 'prod-checkout-v2', '-n', NS]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`ApiKey ${NS}/prod-checkout-v2 created with the scopes of prod-checkout`);
      const copy = await read('prod-checkout-v2');
      const { revoked: _r, revokedKeyIds: _k, secret, ...scopes } = orig.spec ?? {};
      expect(copy.spec).toEqual({ ...scopes, revoked: false, secret: { ...secret, name: 'prod-checkout-v2' } });
      expect(copy.status).toBeUndefined();
      expect(copy.metadata.annotations?.[ANNOTATIONS.rotate]).toBeUndefined();
    });

    it('drops revocations and honours --secret-name', async () => {
      const r = await keys(['duplicate', 'rev-keys', 'rev-keys-copy', '-n', NS, '--secret-name', 'custom-secret']);
      expect(r.code).toBe(0);
      const copy = await read('rev-keys-copy');
      expect(copy.spec).toMatchObject({ team: 'checkout', revoked: false, secret: { name: 'custom-secret' } });
      expect(copy.spec?.revokedKeyIds).toBeUndefined();
    });

    it('refuses an existing name and a Secret another ApiKey writes', async () => {
      const exists = await keys(['duplicate', 'dev-checkout', 'stage-checkout', '-n', NS]);
      expect(exists.code).not.toBe(0);
      expect(exists.stderr).toContain(`ApiKey "stage-checkout" already exists in namespace "${NS}"`);
      const clash = await keys([
        'duplicate',
        'dev-checkout',
        'dev-checkout-2',
        '-n',
        NS,
        '--secret-name',
        'checkout-llm',
      ]);
      expect(clash.code).not.toBe(0);
      expect(clash.stderr).toContain(
        'ApiKey prod-checkout already writes Secret checkout-llm; choose another with --secret-name',
      );
    });
  });

  // The operator's planner produces these statuses (not a hand-built shape); the CLI as a user runs it reads them.
  describe('statuses from the operator planner: describe and handoff', () => {
    const minted = mintedKeys;
    const spec: ApiKeySpecInput = {
      team: 'checkout',
      allowedModels: ['gpt-4o-mini', 'gpt-5'],
      rotation: { handoff: { mode: 'Manual' } },
    };
    /** Issued 2h ago, rotated 1h ago; `successorUsed`: the gateway reported a use 5 minutes ago. */
    async function plannedRotation(name: string, successorUsed: boolean) {
      const now = Date.now();
      const base = inputs({
        namespace: NS,
        name,
        apiKey: plannedApiKey(spec, { name }),
        team: team({ allowedModels: ['gpt-4o-mini'] }, 'checkout'),
      });
      const issued = reconcileUntilQuiet(base, new Date(now - 2 * 3_600_000), minted);
      const rotated = reconcileUntilQuiet(
        withSpec(issued.inp, {}, { [ANNOTATIONS.rotate]: 'r1' }),
        new Date(now - 3_600_000),
        minted,
      );
      const [pred, succ] = [issued.minted[0]!.keyId, rotated.minted[0]!.keyId];
      const usage = new Map(
        successorUsed
          ? [[succ, { requests: 4, credits: 28, lastUsedAt: new Date(now - 5 * 60_000).toISOString() }]]
          : [],
      );
      const final = reconcileUntilQuiet({ ...rotated.inp, usage }, new Date(now), minted).inp;
      await create(name, spec);
      await patchStatus(name, final.apiKey!.status!);
      return { pred, succ };
    }

    it("describe shows the planner's lineage with last used per key id, the manual hand-off and the refused scope", async () => {
      const { pred, succ } = await plannedRotation('planned-used', true);
      const r = await keys(['describe', 'planned-used', '-n', NS]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^ {2}${pred}\\s+…\\S+\\s+Superseded\\s+2h ago\\s+never\\s+never`, 'm'));
      expect(r.stdout).toMatch(
        new RegExp(`^ {2}${succ} \\(current\\)\\s+…\\S+\\s+Active\\s+1h ago\\s+never\\s+5m ago\\s+4\\s+28`, 'm'),
      );
      expect(r.stdout).toMatch(/^ {2}Rotating\s+True\s+HandoffManual\s+/m);
      expect(r.stdout).toMatch(
        /^Rotation:\s+manual \(keys rotate\); manual hand-off: predecessors stay valid until you revoke them/m,
      );
      expect(r.stdout).toMatch(/Scopes refused[^\n]*\n {2}Ready\/ScopesRestricted: .*gpt-5/);
      expect(r.stdout).toMatch(/^Attention:\n {2}Note Rotating\/HandoffManual: manual hand-off/m);

      const handoff = await keys(['handoff', 'planned-used', '-n', NS]);
      expect(handoff.stderr).toBe('');
      expect(handoff.code).toBe(0);
      expect(handoff.stdout).toContain(`predecessor key ids ${pred} revoked`);
      expect((await read('planned-used')).spec?.revokedKeyIds).toEqual([pred]);
    });

    it('handoff refuses while the successor was never used, and changes nothing; --force revokes anyway', async () => {
      const { pred, succ } = await plannedRotation('planned-unused', false);
      const before = (await read('planned-unused')).metadata.resourceVersion;
      const refused = await keys(['handoff', 'planned-unused', '-n', NS]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`The successor key ${succ}`);
      expect(refused.stderr).toContain('has never been used');
      expect(refused.stderr).toContain('--force');
      expect((await read('planned-unused')).metadata.resourceVersion).toBe(before);
      const forced = await keys(['handoff', 'planned-unused', '-n', NS, '--force']);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toContain('never used: forced');
      expect((await read('planned-unused')).spec?.revokedKeyIds).toEqual([pred]);
    });
  });
});
