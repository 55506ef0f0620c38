// Reads what the operator produced for one namespace of ApiKeys (ApiKeys, workload Secrets, records)
// and checks the "exactly one key id per ApiKey" invariant. Shared by the operator benchmark and the
// resilience test; every list is one paged API call per 500 objects, so it scales to 10k keys.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { ApiKeyStatus } from '../api/apikey.ts';
import { GROUP, KINDS, LABELS, RECORD_DATA_KEY, VERSION } from '../api/constants.ts';
import { parseKey, verifyKey } from '../api/keyformat.ts';
import { parseKeyRecord, type KeyRecord } from '../api/record.ts';

export interface ApiKeyView {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string };
  status?: ApiKeyStatus;
}

export interface NamespaceState {
  apiKeys: ApiKeyView[];
  /** Workload Secrets (ours, by label) in the ApiKeys' namespace. */
  secrets: V1Secret[];
  /** Record Secrets in the records namespace whose owner is in the ApiKeys' namespace. */
  records: V1Secret[];
}

const PAGE = 500;

/** Typed lists name the token `_continue` (V1ListMeta); custom-object lists are raw JSON: `continue`. */
type ListPage<T> = { items: T[]; metadata?: { _continue?: string; continue?: string } };

async function listAll<T>(page: (cont: string | undefined) => Promise<ListPage<T>>): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const res = await page(cont);
    out.push(...res.items);
    cont = res.metadata?._continue || res.metadata?.continue || undefined;
  } while (cont);
  return out;
}

export function listApiKeys(kc: KubeConfig, namespace: string): Promise<ApiKeyView[]> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  return listAll(
    async (cont) =>
      (await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.apiKey.plural,
        namespace,
        limit: PAGE,
        _continue: cont,
      })) as ListPage<ApiKeyView>,
  );
}

export async function readState(kc: KubeConfig, namespace: string, recordsNamespace: string): Promise<NamespaceState> {
  const core = kc.makeApiClient(CoreV1Api);
  const [apiKeys, secrets, records] = await Promise.all([
    listApiKeys(kc, namespace),
    listAll((cont) =>
      core.listNamespacedSecret({
        namespace,
        labelSelector: `${LABELS.workloadSecret}=true`,
        limit: PAGE,
        _continue: cont,
      }),
    ),
    listAll((cont) =>
      core.listNamespacedSecret({
        namespace: recordsNamespace,
        labelSelector: `${LABELS.record}=true,${LABELS.apiKeyNamespace}=${namespace}`,
        limit: PAGE,
        _continue: cont,
      }),
    ),
  ]);
  return { apiKeys, secrets, records };
}

export const isReady = (k: ApiKeyView): boolean =>
  !!k.status?.currentKeyId && k.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export function recordOf(secret: V1Secret): KeyRecord | undefined {
  const b64 = secret.data?.[RECORD_DATA_KEY];
  const parsed = b64 === undefined ? undefined : parseKeyRecord(Buffer.from(b64, 'base64').toString('utf8'));
  return parsed?.ok ? parsed.record : undefined;
}

/**
 * Every violation of: each ApiKey is Ready with exactly one key id, which is Active in status, held by
 * its workload Secret (plaintext parses to that id and verifies against the record's hash) and has
 * exactly one record; no record or Secret belongs to nothing. Empty = all good. Messages name key ids
 * and ApiKeys, never plaintext.
 */
export function oneKeyPerApiKeyViolations(state: NamespaceState, dataKey = 'api-key'): string[] {
  const problems: string[] = [];
  const secrets = new Map(state.secrets.map((s) => [s.metadata?.name, s]));
  const recordsById = new Map<string, V1Secret[]>();
  for (const r of state.records) {
    const id = r.metadata?.labels?.[LABELS.keyId] ?? '';
    recordsById.set(id, [...(recordsById.get(id) ?? []), r]);
  }
  const expectedIds = new Set<string>();
  for (const ak of state.apiKeys) {
    const name = ak.metadata.name;
    const s = ak.status;
    const id = s?.currentKeyId;
    if (!isReady(ak) || !id) {
      problems.push(`${name}: not Ready (${JSON.stringify(s?.conditions?.find((c) => c.type === 'Ready') ?? null)})`);
      continue;
    }
    expectedIds.add(id);
    const ids = (s?.keys ?? []).map((k) => `${k.id}:${k.state}`);
    if (ids.length !== 1 || ids[0] !== `${id}:Active`)
      problems.push(`${name}: status.keys is [${ids.join(', ')}], want exactly [${id}:Active]`);
    const secret = secrets.get(s?.secretName ?? name);
    const plaintext = secret?.data?.[dataKey]
      ? Buffer.from(secret.data[dataKey], 'base64').toString('utf8')
      : undefined;
    const parsed = parseKey(plaintext);
    if (!parsed.ok || parsed.keyId !== id)
      problems.push(
        `${name}: Secret holds key id ${parsed.ok ? parsed.keyId : `none (${parsed.reason})`}, status says ${id}`,
      );
    const recs = recordsById.get(id) ?? [];
    if (recs.length !== 1) {
      problems.push(`${name}: ${recs.length} records for key id ${id}`);
      continue;
    }
    const rec = recordOf(recs[0]!);
    if (!rec || rec.owner.name !== name || rec.owner.uid !== ak.metadata.uid)
      problems.push(`${name}: record of ${id} is unreadable or owned by someone else`);
    else if (rec.state !== 'Active') problems.push(`${name}: record of ${id} is ${rec.state}`);
    else if (plaintext === undefined || !verifyKey(plaintext, rec.hash))
      problems.push(`${name}: Secret's plaintext does not verify against the record of ${id}`);
  }
  for (const id of recordsById.keys()) if (!expectedIds.has(id)) problems.push(`orphan record for key id ${id}`);
  const names = new Set(state.apiKeys.map((k) => k.status?.secretName ?? k.metadata.name));
  for (const s of state.secrets)
    if (!names.has(s.metadata?.name ?? '')) problems.push(`orphan workload Secret ${s.metadata?.name}`);
  return problems;
}
