import type { V1Secret } from '@kubernetes/client-node';
import type { Environment } from '../../api/apikey.ts';
import { generateKey, type GeneratedKey } from '../../api/keyformat.ts';
import { apiKeyDefaults } from '../../api/spec.ts';
import type { RestartTargetTracker } from '../rotation/restart-status.ts';
import type { Clock, ObjectCache, ReconcileResult, Reconciler } from '../runtime/types.ts';
import { splitKey } from '../runtime/types.ts';
import type { AllowlistSources } from './allowlist-sources.ts';
import { applyPlan, type Written } from './apply.ts';
import type { RecordIndex, UsageIndex } from './indexes.ts';
import type { ApiKeyMetrics } from './metrics.ts';
import { plan } from './plan.ts';
import type { ApiKeyObject, AuditEntry, PlanInputs, TeamObject } from './types.ts';
import type { ApiKeyWriter } from './writer.ts';

// The ApiKey reconcile: read caches → plan (pure) → mint if asked → apply differences.
//
// Read-your-writes: informer caches lag behind our own writes. Planning from a cache that does not yet
// show the status we just wrote would issue a second key id (and orphan the first). So after writing,
// the reconciler remembers the resourceVersions it produced and, until every cache shows them (or they
// are deleted), answers "recheck shortly" instead of planning — ReplicaSet-controller "expectations".

export interface ApiKeyReconcilerDeps {
  apiKeys: ObjectCache<ApiKeyObject>;
  teams: ObjectCache<TeamObject>;
  secrets: ObjectCache<V1Secret>;
  records: ObjectCache<V1Secret>;
  recordIndex: Pick<RecordIndex, 'forApiKey'>;
  usage: Pick<UsageIndex, 'totals'>;
  writer: ApiKeyWriter;
  clock: Clock;
  recordsNamespace: string;
  audit: (entry: AuditEntry) => void;
  /** Injectable for tests; the default uses crypto.randomBytes. */
  generateKey?: (environment: Environment | undefined) => GeneratedKey;
  operatorIdentity?: string;
  metrics?: ApiKeyMetrics;
  /** How long to wait for caches to show our writes before planning anyway. */
  expectationTtlMs?: number;
  /** Monotonic ms for expectation TTLs (wall time, not the injectable clock). */
  monotonicNow?: () => number;
  /** Whether rotation.restartTargets exist, as the restart-target controller last saw them. */
  restartTargets?: Pick<RestartTargetTracker, 'stateFor'>;
  /** Reads spec.ipAllowlistFrom (the key's and its Team's); without it, keys with a list stay suspended. */
  allowlists?: Pick<AllowlistSources, 'resolve'>;
}

export const CACHE_WAIT_MS = 200;
/**
 * Requeues are capped: timers overflow past 2^31-1 ms (~24.8 days) and fire at once, and a wall-clock
 * recheck every few hours is harmless (an unchanged object plans zero writes).
 */
export const MAX_REQUEUE_MS = 6 * 3_600_000;

function rvAtLeast(cached: string | undefined, written: string): boolean {
  if (cached === undefined) return false;
  if (/^\d+$/.test(cached) && /^\d+$/.test(written)) return BigInt(cached) >= BigInt(written);
  return cached === written;
}

/**
 * After a reconcile that wrote: the state it brought the ApiKey to — what the caches show once they hold
 * its writes — and the other inputs it planned from. The planner reaches its fixpoint in one reconcile
 * (operator/keys/lifecycle.ts), so the reconcile that confirms those writes (their watch events, the
 * recheck) would plan nothing from exactly this state; it is skipped unless anything else moved: another
 * writer, the Team, usage, restart targets, or the time of the plan's next time-based step. At 10 000
 * keys this was every second reconcile, all queued behind the backlog and run in one burst at its end.
 */
interface Settled {
  objects: string;
  team: unknown;
  usage: unknown;
  restartTargets: string;
  /** Clock ms of the plan's next time-based step. */
  dueAt: number | undefined;
}

const restartState = (m: ReadonlyMap<string, boolean> | undefined) => (m ? [...m].join(';') : '');

/** The resourceVersions of the ApiKey, its Secret and records, as one comparable string. */
function objectVersions(apiKeyRv: string | undefined, secretRv: string | undefined, records: Map<string, string>) {
  return `${apiKeyRv}|${secretRv}|${[...records].sort(([a], [b]) => (a < b ? -1 : 1)).join(',')}`;
}

const recordVersions = (inp: PlanInputs) =>
  new Map(inp.records.map((r) => [r.metadata?.name ?? '', r.metadata?.resourceVersion ?? '']));

function inputVersions(inp: PlanInputs): string {
  return objectVersions(
    inp.apiKey?.metadata?.resourceVersion,
    inp.secret?.metadata?.resourceVersion,
    recordVersions(inp),
  );
}

/** inputVersions of the state `inp` is in once `written` shows in the caches. */
function versionsAfter(inp: PlanInputs, written: Written): string {
  let apiKeyRv = inp.apiKey?.metadata?.resourceVersion;
  let secretRv = inp.secret?.metadata?.resourceVersion;
  const records = recordVersions(inp);
  for (const e of written.expectations) {
    const name = splitKey(e.key).name;
    if (e.cache === 'apiKey') apiKeyRv = e.resourceVersion;
    else if (e.cache === 'secret') secretRv = e.resourceVersion;
    else if (e.resourceVersion === 'deleted') records.delete(name);
    else records.set(name, e.resourceVersion);
  }
  return objectVersions(apiKeyRv, secretRv, records);
}

export function createApiKeyReconciler(
  deps: ApiKeyReconcilerDeps,
): Reconciler & { readonly lastWrites: number; readonly confirmationsSkipped: number } {
  const generate = deps.generateKey ?? ((environment) => generateKey(environment ? { environment } : {}));
  const ttl = deps.expectationTtlMs ?? 30_000;
  const mono = deps.monotonicNow ?? (() => performance.now());
  const pending = new Map<string, { expectations: Written['expectations']; until: number }>();
  const settled = new Map<string, Settled>();
  let lastWrites = 0;
  let confirmationsSkipped = 0;

  const cacheCaughtUp = (e: Written['expectations'][number]): boolean => {
    const { namespace, name } = splitKey(e.key);
    const cache = e.cache === 'apiKey' ? deps.apiKeys : e.cache === 'secret' ? deps.secrets : deps.records;
    const obj = cache.get(namespace, name);
    if (e.resourceVersion === 'deleted') return obj === undefined;
    // An object that vanished (ApiKey deleted after its finalizer went) cannot be behind.
    return obj === undefined ? e.cache === 'apiKey' : rvAtLeast(obj.metadata?.resourceVersion, e.resourceVersion);
  };

  const reconcile = async (key: string): Promise<ReconcileResult> => {
    const wait = pending.get(key);
    if (wait) {
      if (mono() < wait.until && !wait.expectations.every(cacheCaughtUp)) return { requeueAfterMs: CACHE_WAIT_MS };
      pending.delete(key);
    }
    const { namespace = '', name } = splitKey(key);
    const apiKey = deps.apiKeys.get(namespace, name);
    const spec = apiKey?.spec;
    const secretName = apiKeyDefaults(name, spec).secret.name;
    const inputs: PlanInputs = {
      namespace,
      name,
      apiKey,
      team: spec?.team ? deps.teams.get(namespace, spec.team) : undefined,
      secret: deps.secrets.get(namespace, secretName),
      records: deps.recordIndex.forApiKey(key),
      usage: deps.usage.totals(),
      recordsNamespace: deps.recordsNamespace,
      operatorIdentity: deps.operatorIdentity ?? 'operator',
    };
    const restartTargets = apiKey && deps.restartTargets?.stateFor(apiKey);
    if (restartTargets) inputs.restartTargets = restartTargets;
    const live = apiKey !== undefined && !apiKey.metadata?.deletionTimestamp;
    const refs = live ? spec?.ipAllowlistFrom : undefined;
    if (refs?.length && deps.allowlists) inputs.ipAllowlistFrom = await deps.allowlists.resolve(namespace, refs);
    // The Team's lists, in the Team's namespace (= the key's: spec.team names a Team in this namespace).
    const teamRefs = live ? inputs.team?.spec?.ipAllowlistFrom : undefined;
    if (teamRefs?.length && deps.allowlists) {
      inputs.teamIpAllowlistFrom = await deps.allowlists.resolve(namespace, teamRefs);
    }
    const now = deps.clock.now();
    const after = settled.get(key);
    settled.delete(key);
    if (
      after !== undefined &&
      after.objects === inputVersions(inputs) &&
      after.team === inputs.team &&
      after.usage === inputs.usage &&
      after.restartTargets === restartState(inputs.restartTargets) &&
      (after.dueAt === undefined || now.getTime() < after.dueAt)
    ) {
      lastWrites = 0;
      confirmationsSkipped++;
      return after.dueAt === undefined ? {} : { requeueAfterMs: Math.min(after.dueAt - now.getTime(), MAX_REQUEUE_MS) };
    }
    let p = plan(inputs, now);
    let minted: GeneratedKey | undefined;
    if (p.kind === 'mint') {
      minted = generate(p.environment);
      p = plan({ ...inputs, minted: { keyId: minted.keyId, hash: minted.hash, hint: minted.hint } }, now);
      if (p.kind !== 'apply') throw new Error(`planner asked for a second key for ${key}`);
    }
    const written = await applyPlan(p, { apiKey, secret: inputs.secret, records: inputs.records }, minted, {
      writer: deps.writer,
      audit: deps.audit,
      onEvent: (e) => e.reminder && deps.metrics?.reminder(e.reminder),
      now,
    });
    lastWrites = written.writes;
    if (written.expectations.length > 0) pending.set(key, { expectations: written.expectations, until: mono() + ttl });
    // Lists read asynchronously (ipAllowlistFrom) are not compared: their keys always plan again.
    if (written.writes > 0 && live && !refs?.length && !teamRefs?.length) {
      settled.set(key, {
        objects: versionsAfter(inputs, written),
        team: inputs.team,
        usage: inputs.usage,
        restartTargets: restartState(inputs.restartTargets),
        dueAt: p.requeueAfterMs === undefined ? undefined : now.getTime() + p.requeueAfterMs,
      });
    }
    if (!apiKey || apiKey.metadata?.deletionTimestamp) deps.metrics?.forget(key);
    else deps.metrics?.observe(key, spec?.team ?? '', p.status ?? apiKey.status);
    // Writes just happened: look again once the caches show them (then the plan is a no-op or the next step).
    if (written.expectations.length > 0)
      return { requeueAfterMs: Math.min(CACHE_WAIT_MS, p.requeueAfterMs ?? CACHE_WAIT_MS) };
    return p.requeueAfterMs !== undefined ? { requeueAfterMs: Math.min(p.requeueAfterMs, MAX_REQUEUE_MS) } : {};
  };

  return {
    name: 'apikey',
    reconcile,
    get lastWrites() {
      return lastWrites;
    },
    /** Reconciles that confirmed the previous one's writes without planning (see Settled). */
    get confirmationsSkipped() {
      return confirmationsSkipped;
    },
  };
}
