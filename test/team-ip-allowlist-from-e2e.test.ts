// Team.spec.ipAllowlistFrom end to end (docs/design.md §2, "Team lists") on the real API server with the
// operator, the gateway reading the operator's records, and the official openai SDK calling from 127.0.0.1.
// A Team's list confines every key of the team (key ∩ team): only the Team's ConfigMap and the Team are
// edited — never an ApiKey (generations are checked) — and the gateway's answers follow them; a key's own
// wider list never widens it; a broken line fails closed with a condition naming Team, ConfigMap and line.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { GROUP, KINDS, VERSION } from '../api/constants.ts';
import type { RunningGateway } from '../gateway/main.ts';
import { adminKubeConfig, hasCluster } from './support/cluster.ts';
import { createReadyKey, createTeam, eventually, realTimeClock } from './support/operator.ts';
import { type Answer, chatAnswer } from './support/chat.ts';
import { startStack, type Stack } from './support/stack.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `teamfrom-${RUN}`;
const RECORDS = `teamfrom-records-${RUN}`;
const AK = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const TEAM = { ...AK, plural: KINDS.team.plural };
const ADMITTED: Answer = { status: 200 };
const IP_REFUSED: Answer = { status: 401, code: 'ip_not_allowed' };
const SUSPENDED: Answer = { status: 401, code: 'suspended_api_key' };

/** The keys of the team: no own list; an own list wider than the Team; an own list only partly shared. */
const KEYS = {
  anySource: {},
  ownWide: { ipAllowlist: ['127.0.0.0/8', '192.0.2.0/24'] },
  ownLoopback: { ipAllowlist: ['127.0.0.0/8'] },
} as const;
type KeyName = keyof typeof KEYS;
const nameOf = (k: KeyName) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe.skipIf(!hasCluster())('Team.spec.ipAllowlistFrom: a Team list confines its keys, operator → gateway', () => {
  let stack: Stack;
  let gw: RunningGateway;
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const keys = new Map<KeyName, { keyId: string; key: string; generation: number }>();

  const chat = (key: string): Promise<Answer> => chatAnswer(gw.url, key);
  /** Waits until every listed key gets its expected answer at the gateway. */
  const untilAnswers = (what: string, expected: Partial<Record<KeyName, Answer>>) =>
    eventually(
      async () => {
        for (const [k, want] of Object.entries(expected) as [KeyName, Answer][]) {
          const a = await chat(keys.get(k)!.key);
          if (a.status !== want.status || a.code !== want.code) return undefined;
        }
        return true;
      },
      30_000,
      what,
    );
  const apiKey = async (k: KeyName) =>
    (await custom.getNamespacedCustomObject({ ...AK, namespace: NS, name: nameOf(k) })) as {
      metadata: { generation: number };
      status?: ApiKeyStatus;
    };
  /** Only the Team and its ConfigMaps are edited: every ApiKey keeps the generation it was created with. */
  const expectApiKeysUntouched = async () => {
    for (const k of Object.keys(KEYS) as KeyName[]) {
      expect((await apiKey(k)).metadata.generation, `${k} was never touched`).toBe(keys.get(k)!.generation);
    }
  };
  const readyOf = async (k: KeyName) => (await apiKey(k)).status?.conditions?.find((c) => c.type === 'Ready');
  const gatewayAllowlist = (k: KeyName) => gw.records.get(keys.get(k)!.keyId)?.scopes.ipAllowlist;
  /** The resourceVersions of the team's ApiKeys and their records: unchanged while the operator is idle. */
  const versions = async () => {
    const aks = await custom.listNamespacedCustomObject({ ...AK, namespace: NS });
    const records = await core.listNamespacedSecret({ namespace: RECORDS });
    const rvs = [...(aks as { items: { metadata: { resourceVersion: string } }[] }).items, ...records.items];
    return rvs.map((o) => o.metadata?.resourceVersion).join(',');
  };
  /**
   * Waits until the operator wrote nothing for a while, so that only the ConfigMap edit that follows can
   * make it re-render the keys (a reconcile still running from an earlier change would pick it up too).
   */
  const operatorIdle = async () => {
    let last = await versions();
    for (let quiet = 0; quiet < 10; ) {
      await new Promise((r) => setTimeout(r, 150));
      const now = await versions();
      quiet = now === last ? quiet + 1 : 0;
      last = now;
    }
  };
  const setConfigMap = async (name: string, cidrs: string) => {
    await operatorIdle();
    await core.replaceNamespacedConfigMap({ namespace: NS, name, body: { metadata: { name }, data: { cidrs } } });
  };
  const createConfigMap = (name: string, cidrs: string) =>
    core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name }, data: { cidrs } } });
  const teamListFrom = (configMap: string) => [{ configMapKeyRef: { name: configMap, key: 'cidrs' } }];
  /** Sets (or, with null, removes) the Team's spec.ipAllowlistFrom. */
  const setTeamList = (value: ReturnType<typeof teamListFrom> | null) =>
    custom.patchNamespacedCustomObject(
      { ...TEAM, namespace: NS, name: 'ci', body: { spec: { ipAllowlistFrom: value } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

  beforeAll(async () => {
    stack = await startStack({
      recordsNamespace: RECORDS,
      clock: realTimeClock(),
      watchNamespace: NS,
      gatewayId: `teamfrom-${RUN}`,
      // No usage reports during the test: a report re-reconciles the keys it names, which would hide a
      // ConfigMap → Team → keys index that does not work.
      reportIntervalMs: 3_600_000,
    });
    gw = stack.gw;
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await createConfigMap('team-ranges', '# CI runners of team ci\n127.0.0.1\n192.0.2.0/24\n');
    await createTeam(kc, NS, 'ci', { allowedModels: ['*'], ipAllowlistFrom: teamListFrom('team-ranges') });
    for (const k of Object.keys(KEYS) as KeyName[]) {
      const created = await createReadyKey(kc, NS, nameOf(k), { team: 'ci', ...KEYS[k] });
      keys.set(k, { ...created, generation: (await apiKey(k)).metadata.generation });
    }
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('follows edits of the Team ConfigMap: listed → admitted, else refused; never wider than the Team', async () => {
    await untilAnswers('all admitted from 127.0.0.1', {
      anySource: ADMITTED,
      ownWide: ADMITTED,
      ownLoopback: ADMITTED,
    });
    // The records carry key ∩ team: the key's 127.0.0.0/8 is narrowed to the Team's 127.0.0.1.
    expect(gatewayAllowlist('anySource')).toEqual(['127.0.0.1', '192.0.2.0/24']);
    expect(gatewayAllowlist('ownWide')).toEqual(['127.0.0.1', '192.0.2.0/24']);
    expect(gatewayAllowlist('ownLoopback')).toEqual(['127.0.0.1']);
    expect(await readyOf('ownWide')).toMatchObject({
      status: 'True',
      reason: 'ScopesRestricted',
      message: expect.stringContaining('127.0.0.0/8'),
    });

    // 127.0.0.1 leaves the Team's list: refused, although ownWide's own list still names 127.0.0.0/8; the
    // key whose own list now shares no address with the Team is suspended (never "any source").
    await setConfigMap('team-ranges', '192.0.2.0/24\n');
    await untilAnswers('refused after the Team list dropped 127.0.0.1', {
      anySource: IP_REFUSED,
      ownWide: IP_REFUSED,
      ownLoopback: SUSPENDED,
    });
    expect(gatewayAllowlist('ownWide')).toEqual(['192.0.2.0/24']);
    expect(await readyOf('ownLoopback')).toMatchObject({
      status: 'False',
      reason: 'NoAllowedSources',
      message: expect.stringContaining('(127.0.0.0/8) is inside the ipAllowlistFrom lists of Team "ci"'),
    });

    // Back in the list: admitted again.
    await setConfigMap('team-ranges', '127.0.0.0/30\n192.0.2.0/24\n');
    await untilAnswers('admitted again', { anySource: ADMITTED, ownWide: ADMITTED, ownLoopback: ADMITTED });

    // A broken line (127.0.0.1 still on another line) fails closed for every key of the team.
    await setConfigMap('team-ranges', '# CI runners\n127.0.0.1\n127.0.0.300\n');
    await untilAnswers('suspended by the broken Team list', {
      anySource: SUSPENDED,
      ownWide: SUSPENDED,
      ownLoopback: SUSPENDED,
    });
    for (const k of Object.keys(KEYS) as KeyName[]) {
      expect(await readyOf(k)).toMatchObject({
        status: 'False',
        reason: 'IpAllowlistUnresolved',
        message: expect.stringContaining(
          'Team "ci" spec.ipAllowlistFrom: ConfigMap team-ranges key "cidrs": ' +
            'line 3 ("127.0.0.300") is not a CIDR block',
        ),
      });
    }

    await expectApiKeysUntouched();
  }, 180_000);

  it("follows the Team's spec.ipAllowlistFrom: another ConfigMap, then edits of that one, then none", async () => {
    await createConfigMap('team-ranges-v2', '127.0.0.0/24\n');
    await setTeamList(teamListFrom('team-ranges-v2'));
    await untilAnswers('admitted under the new list', { anySource: ADMITTED, ownWide: ADMITTED });
    expect(gatewayAllowlist('ownWide')).toEqual(['127.0.0.0/24']);

    // The index followed the Team: an edit of the new ConfigMap reaches the keys.
    await setConfigMap('team-ranges-v2', '192.0.2.0/25\n');
    await untilAnswers('refused after the new list dropped 127.0.0.0/24', {
      anySource: IP_REFUSED,
      ownWide: IP_REFUSED,
    });
    expect(gatewayAllowlist('ownWide')).toEqual(['192.0.2.0/25']);

    // No Team list: each key is its own allowlist again (anySource: any source; ownWide: 127.0.0.0/8, …).
    await setTeamList(null);
    await untilAnswers('admitted without a Team list', { anySource: ADMITTED, ownWide: ADMITTED });
    expect(gatewayAllowlist('ownWide')).toEqual(['127.0.0.0/8', '192.0.2.0/24']);

    await expectApiKeysUntouched();
  }, 120_000);
});
