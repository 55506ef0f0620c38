import YAML from 'yaml';
import { KEY_STATES, type KeyEntry } from '../../api/apikey.ts';
import { generateKey, type Environment } from '../../api/keyformat.ts';
import type { KeyRecord } from '../../api/record.ts';
import { encodeRecordSecret } from '../../api/record-secret.ts';
import { renderRecord, type RecordContent } from '../../operator/apikey/record.ts';

// Test fixtures: a real key (for requests) with the record the operator's renderer produces for it —
// never a hand-built record shape (docs/design.md §6: tests consume what the producer emits).
// The one such helper: unit tests, the integration tests in test/ and the gateway benchmarks use it;
// never production code (excluded from the image by .dockerignore).

/** What a test may vary: the renderer's inputs, named like the record fields they end up in. */
export interface RecordOverrides {
  /** A lineage state, or Suspended (with suspendedReason, default TeamNotFound). */
  state?: KeyRecord['state'];
  suspendedReason?: KeyRecord['suspendedReason'];
  expiresAt?: string | null;
  scopes?: Partial<KeyRecord['scopes']>;
  rateLimit?: KeyRecord['rateLimit'];
  budget?: KeyRecord['budget'];
  owner?: KeyRecord['owner'];
  /** The owning ApiKey's uid, which the renderer uses as the counters' bucket (default: one per call). */
  limitsKey?: string;
  updatedAt?: string;
}

let apiKeys = 0;

const isKeyState = (s: string): s is KeyEntry['state'] => (KEY_STATES as readonly string[]).includes(s);

/** A key and its record as the operator renders them for a distinct ApiKey (its own limits bucket). */
export function makeKeyAndRecord(
  overrides: RecordOverrides = {},
  environment: Environment = 'dev',
): { key: string; record: KeyRecord } {
  const g = generateKey({ environment });
  const defaultUid = `00000000-0000-0000-0000-${String(++apiKeys).padStart(12, '0')}`;
  const state = overrides.state ?? 'Active';
  const entry: KeyEntry = {
    id: g.keyId,
    hint: g.hint,
    state: isKeyState(state) ? state : 'Active',
    createdAt: '2025-01-01T00:00:00.000Z',
  };
  if (overrides.expiresAt) entry.expiresAt = overrides.expiresAt;
  const content: RecordContent = {
    entry,
    hash: g.hash,
    owner: {
      namespace: 'team-a',
      name: 'checkout',
      ...overrides.owner,
      team: 'team-a',
      uid: overrides.limitsKey ?? overrides.owner?.uid ?? defaultUid,
    },
    environment,
    scopes: { models: ['*'], endpoints: [], ipAllowlist: [], ...overrides.scopes },
    suspension: state === 'Suspended' ? (overrides.suspendedReason ?? 'TeamNotFound') : undefined,
    rateLimit: overrides.rateLimit,
    budget: overrides.budget,
  };
  return { key: g.key, record: renderRecord(content, overrides.updatedAt ?? '2025-01-01T00:00:00.000Z') };
}

/** The labelled record Secret the operator writes into the records namespace (the one codec, api/record-secret.ts). */
export function recordSecretManifest(record: KeyRecord, namespace: string) {
  const owner = { ...record.owner, team: record.team };
  return encodeRecordSecret(namespace, owner, record, '2025-01-01T00:00:00.000Z');
}

/** The chart's gateway Role rules (charts/nemokeys/templates/gateway-rbac.yaml), templating stripped. */
export function chartGatewayRoleRules(
  chartFileText: string,
): Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> {
  const plain = chartFileText.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '').replace(/^.*\{\{.*\}\}.*$/gm, '');
  const role = YAML.parseAllDocuments(plain)
    .map((d) => d.toJS() as { kind?: string; rules?: unknown })
    .find((d) => d?.kind === 'Role');
  if (!Array.isArray(role?.rules)) throw new Error('no Role with rules in the gateway RBAC template');
  return role.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
}
