import type { KeyRecord } from '../../api/record.ts';
import { parseKey, verifyKey } from '../../api/keyformat.ts';
import { clientIp, compileCidrs, type CidrList, type Ip } from '../client-ip.ts';
import { ipRangeTable, type IpRangeTable } from '../ip-range-table.ts';
import type { DenialReason } from '../errors.ts';
import { keyStateDenial } from '../records/key-state.ts';
import { passThrough, routeModel } from './routes.ts';
import {
  allModelsAllowed,
  canonicalSegments,
  endpointAllowed,
  endpointPath,
  modelAllowed,
  type ModelSource,
} from './scopes.ts';

// The checks that need no request body (docs/design.md §4 steps 1-4 plus what the route alone decides), in
// order, cheapest first. Pure: the record lookup, clock and addresses are inputs, so the ordering is
// tested as a table. Nothing here consumes a rate limit or budget.

export interface PrecheckInput {
  synced: boolean;
  lookup: (keyId: string) => KeyRecord | undefined;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  method: string;
  url: string;
  peer: string | undefined;
  trustedProxies: CidrList;
  nowMs: number;
  /** Routes model-scoped keys may call although the gateway cannot tell their model. */
  passThroughRoutes?: readonly string[];
}

export interface Admitted {
  ok: true;
  record: KeyRecord;
  /** Path without the /v1 prefix, decoded: what endpoint scopes and metrics talk about. */
  endpoint: string;
  modelSource: ModelSource;
  /** The model the path names (`/openai/deployments/{model}/...`), already checked. */
  pathModel: string | undefined;
  clientIp: Ip | undefined;
}
export interface Denied {
  ok: false;
  reason: DenialReason;
  /** Set once the key is authenticated, so denials can be attributed to it. */
  record?: KeyRecord;
  /** A fixed, input-free refinement of the error message. */
  detail?: string;
}

const BATCH_DETAIL =
  'Batches run the models named inside an uploaded file, which the gateway cannot check: use a key allowed every model ("*").';
const UNKNOWN_ROUTE_DETAIL =
  'The gateway cannot tell which model this route uses, so a key limited to some models may not call it.';

/**
 * The presented key: `Authorization: Bearer`, `x-api-key` or `api-key`; undefined when none is sent.
 * false (malformed) when several headers disagree or Authorization alone uses another scheme.
 */
export function extractKey(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined | false {
  let found: string | undefined;
  const auth = headers.authorization;
  if (auth !== undefined) {
    if (typeof auth !== 'string') return false;
    // case-insensitive scheme, as RFC 9110 says
    if (auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') found = auth.slice(7).trim();
    else if (headers['x-api-key'] === undefined && headers['api-key'] === undefined) return false;
  }
  for (const name of ['x-api-key', 'api-key'] as const) {
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v !== 'string') return false;
    const t = v.trim();
    if (found !== undefined && found !== t) return false;
    found = t;
  }
  return found;
}

interface CompiledScopes {
  expiresAtMs: number;
  allowlist: IpRangeTable;
}
// Records are immutable and swapped as a whole, so per-record derived data can be cached by identity.
// Records with the same scopes share one allowlist array (gateway/records/shared-parts.ts): its table
// is compiled once, however many keys carry it.
const compiledCache = new WeakMap<KeyRecord, CompiledScopes>();
const allowlistCache = new WeakMap<readonly string[], IpRangeTable>();
function compiledAllowlist(cidrs: readonly string[]): IpRangeTable {
  let table = allowlistCache.get(cidrs);
  if (table === undefined) {
    table = ipRangeTable(compileCidrs(cidrs));
    allowlistCache.set(cidrs, table);
  }
  return table;
}
function compiled(record: KeyRecord): CompiledScopes {
  let c = compiledCache.get(record);
  if (c === undefined) {
    const expiresAtMs = record.expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(record.expiresAt);
    // an unparseable expiry is treated as already expired (fail closed)
    c = {
      expiresAtMs: Number.isNaN(expiresAtMs) ? Number.NEGATIVE_INFINITY : expiresAtMs,
      allowlist: compiledAllowlist(record.scopes.ipAllowlist),
    };
    compiledCache.set(record, c);
  }
  return c;
}

export function precheck(input: PrecheckInput): Admitted | Denied {
  if (!input.synced) return { ok: false, reason: 'not_synced' };

  // 1. missing / malformed / unknown / wrong secret
  const key = extractKey(input.headers);
  if (key === undefined) return { ok: false, reason: 'missing_key' };
  if (key === false) return { ok: false, reason: 'malformed_key' };
  const parsed = parseKey(key);
  if (!parsed.ok) return { ok: false, reason: parsed.reason === 'missing' ? 'missing_key' : 'malformed_key' };
  const record = input.lookup(parsed.keyId);
  if (record === undefined || !verifyKey(key, record.hash)) return { ok: false, reason: 'unknown_key' };

  // 2. revoked / expired / suspended: decided from the record's one state field
  const scopes = compiled(record);
  const denial = keyStateDenial(record, scopes.expiresAtMs, input.nowMs);
  if (denial !== undefined)
    return { ok: false, reason: denial.reason, record, ...(denial.detail ? { detail: denial.detail } : {}) };

  // 3. source address (before anything can be counted against the key)
  const ip = scopes.allowlist.any
    ? undefined
    : clientIp(input.peer, input.headers['x-forwarded-for'], input.trustedProxies);
  if (!scopes.allowlist.contains(ip)) return { ok: false, reason: 'ip_not_allowed', record };

  // 4. endpoint
  const segments = canonicalSegments(input.url);
  if (segments === undefined) return { ok: false, reason: 'bad_request', record };
  const endpoint = endpointPath(segments);
  if (!endpointAllowed(record.scopes.endpoints, endpoint)) return { ok: false, reason: 'endpoint_not_allowed', record };

  // 5, the part decidable without a body: where the route takes its model from
  const route = routeModel(input.method, endpoint);
  if (!allModelsAllowed(record.scopes.models)) {
    if (route.kind === 'batch') return { ok: false, reason: 'model_not_allowed', record, detail: BATCH_DETAIL };
    if (route.kind === 'unknown' && !passThrough(input.passThroughRoutes ?? [], endpoint)) {
      return { ok: false, reason: 'endpoint_not_allowed', record, detail: UNKNOWN_ROUTE_DETAIL };
    }
    if (route.kind === 'path' && !modelAllowed(record.scopes.models, route.model))
      return { ok: false, reason: 'model_not_allowed', record };
  }
  const source = route.kind === 'body' || route.kind === 'path' ? route.source : 'none';
  const pathModel = route.kind === 'path' ? route.model : undefined;
  return { ok: true, record, endpoint, modelSource: source, pathModel, clientIp: ip };
}
