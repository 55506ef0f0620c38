import { LABELS, MANAGED_BY, RECORD_DATA_KEY } from './constants.ts';
import { KEY_SCANNER_PATTERN } from './keyformat.ts';
import { canonical, parseKeyRecord, type KeyRecord } from './record.ts';

// The record Secret: how a KeyRecord is stored in the records namespace. The one codec — the operator
// encodes with encodeRecordSecret, the gateway (and the operator reading its cache) decode with
// decodeRecordSecret — plus the name and labels both sides select on (docs/design.md §2).

/** The operator names each record Secret after its key id, so a name is unique per key id. */
export const RECORD_SECRET_PREFIX = 'nemokeys-key-';
export const recordSecretName = (keyId: string): string => `${RECORD_SECRET_PREFIX}${keyId}`;

/** Creation instant of the key id (the operator's clock), so a crash-adopted key keeps its true age. */
export const RECORD_CREATED_AT_ANNOTATION = 'keys.nemorouter.io/created-at';

/** What the gateway and the operator watch in the records namespace (and nothing else). */
export const RECORD_SELECTOR = `${LABELS.record}=true`;

export interface RecordOwner {
  namespace: string;
  name: string;
  uid: string;
  team: string;
}

export function recordLabels(owner: RecordOwner, keyId: string): Record<string, string> {
  return {
    [LABELS.record]: 'true',
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.keyId]: keyId,
    [LABELS.apiKeyUid]: owner.uid,
    [LABELS.apiKeyNamespace]: owner.namespace,
    [LABELS.apiKeyName]: owner.name,
    [LABELS.team]: owner.team,
  };
}

/** The parts of a Secret the codec reads and writes (V1Secret is assignable both ways). */
export interface RecordSecret {
  apiVersion?: string;
  kind?: string;
  type?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data?: Record<string, string>;
}

export function encodeRecordSecret(namespace: string, owner: RecordOwner, record: KeyRecord, createdAt: string) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: recordSecretName(record.keyId),
      namespace,
      labels: recordLabels(owner, record.keyId),
      annotations: { [RECORD_CREATED_AT_ANNOTATION]: createdAt },
    },
    data: { [RECORD_DATA_KEY]: Buffer.from(canonical(record)).toString('base64') },
  } satisfies RecordSecret;
}

/**
 * `claim`: a valid record under another key id's Secret name. It grants nothing, but a reader must treat
 * it as a claim on that key id (docs/design.md §4: duplicates fail closed), never drop it silently.
 */
export type Decoded = { ok: true; record: KeyRecord } | { ok: false; error: string; claim?: KeyRecord };

const KEY_LIKE = new RegExp(KEY_SCANNER_PATTERN, 'g');

/**
 * parseKeyRecord, with errors safe to log: V8's JSON errors show a snippet and zod names unknown
 * properties, so keep the position, drop the snippet, and redact anything shaped like a key.
 */
export function decodeRecordText(text: string): Decoded {
  const parsed = parseKeyRecord(text);
  if (parsed.ok) return parsed;
  if (parsed.error.startsWith('record is not JSON')) {
    const where = /at position \d+(?: \(line \d+ column \d+\))?/.exec(parsed.error)?.[0];
    return { ok: false, error: `record is not valid JSON${where ? ` (${where})` : ''}` };
  }
  return { ok: false, error: parsed.error.replace(KEY_LIKE, '[redacted key]') };
}

export function decodeRecordSecret(secret: RecordSecret): Decoded {
  const name = secret.metadata?.name ?? '';
  const b64 = secret.data?.[RECORD_DATA_KEY];
  if (b64 === undefined) return { ok: false, error: `Secret ${name} has no data["${RECORD_DATA_KEY}"]` };
  const parsed = decodeRecordText(Buffer.from(b64, 'base64').toString('utf8'));
  if (!parsed.ok) return { ok: false, error: `Secret ${name}: ${parsed.error}` };
  // A record under someone else's name must neither grant access nor shadow the real one.
  const expected = recordSecretName(parsed.record.keyId);
  if (name !== expected) {
    const error = `Secret ${name} holds key id ${parsed.record.keyId}; its name must be ${expected}`;
    return { ok: false, error, claim: parsed.record };
  }
  return parsed;
}
