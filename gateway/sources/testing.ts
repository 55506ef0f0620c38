import { generateKey, type Environment } from '../../api/keyformat.ts';
import { KEY_RECORD_SCHEMA_VERSION, type KeyRecord } from '../../api/record.ts';
import { RECORD_DATA_KEY, LABELS, MANAGED_BY } from '../../api/constants.ts';
import YAML from 'yaml';
import { recordSecretName } from './decode.ts';

// Test fixtures: a real key (for requests) with the record the operator would write for it.
// Used by unit tests and the integration tests in test/; never by production code.

export type RecordOverrides = Partial<Omit<KeyRecord, 'keyId' | 'hash' | 'scopes'>> & { scopes?: Partial<KeyRecord['scopes']> };

export function makeKeyAndRecord(overrides: RecordOverrides = {}, environment: Environment = 'dev'): { key: string; record: KeyRecord } {
  const g = generateKey({ environment });
  const { scopes, ...rest } = overrides;
  const record: KeyRecord = {
    schemaVersion: KEY_RECORD_SCHEMA_VERSION,
    keyId: g.keyId,
    hash: g.hash,
    owner: { namespace: 'team-a', name: 'checkout', uid: '00000000-0000-0000-0000-000000000001' },
    team: 'team-a',
    environment,
    state: 'Active',
    revoked: false,
    expiresAt: null,
    scopes: { models: ['*'], endpoints: [], ipAllowlist: [], ...scopes },
    limitsKey: 'team-a/checkout',
    updatedAt: '2025-01-01T00:00:00.000Z',
    ...rest,
  };
  return { key: g.key, record };
}

/** The labelled record Secret the operator writes into the records namespace. */
export function recordSecretManifest(record: KeyRecord, namespace: string) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: recordSecretName(record.keyId),
      namespace,
      labels: { [LABELS.record]: 'true', [LABELS.managedBy]: MANAGED_BY, [LABELS.keyId]: record.keyId },
    },
    type: 'Opaque',
    data: { [RECORD_DATA_KEY]: Buffer.from(JSON.stringify(record)).toString('base64') },
  };
}

/** The chart's gateway Role rules (charts/nemokeys/templates/gateway-rbac.yaml), templating stripped. */
export function chartGatewayRoleRules(chartFileText: string): Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> {
  const plain = chartFileText.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '').replace(/^.*\{\{.*\}\}.*$/gm, '');
  const role = YAML.parseAllDocuments(plain).map((d) => d.toJS() as { kind?: string; rules?: unknown }).find((d) => d?.kind === 'Role');
  if (!Array.isArray(role?.rules)) throw new Error('no Role with rules in the gateway RBAC template');
  return role.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
}
