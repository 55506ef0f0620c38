import type { V1ConfigMap } from '@kubernetes/client-node';
import { ANNOTATIONS, GROUP, KINDS, LABELS, MANAGED_BY, VERSION } from '../api/constants.ts';
import { RECORD_SELECTOR } from '../api/record-secret.ts';
import { listObjects } from '../kube/apply.ts';
import { compactMetadata, compactObject, pruneManagedFields } from '../kube/compact.ts';
import { CONFIG_MAPS, resourcePath } from '../kube/resources.ts';
import { allowlistSources } from './apikey/allowlist-sources.ts';
import { RecordIndex, UsageIndex } from './apikey/indexes.ts';
import { createKubeWriter } from './apikey/kube-writer.ts';
import { createApiKeyMetrics } from './apikey/metrics.ts';
import { createApiKeyReconciler } from './apikey/reconciler.ts';
import type { ApiKeyObject, TeamObject } from './apikey/types.ts';
import type { OperatorContext } from './runtime/context.ts';
import { objectKey, splitKey, type CachedInformer } from './runtime/types.ts';
import { specChangeDetector } from './runtime/spec-change.ts';
import { createTeamReconciler, kubeTeamStatusWriter } from './team/reconciler.ts';
import type { ApiKeyWriter } from './apikey/writer.ts';
import { restartTargetsOf, targetKey } from './rotation/restart-plan.ts';
import { createRestartReconciler } from './rotation/restart-reconciler.ts';
import { RestartTargetTracker } from './rotation/restart-status.ts';
import { createKubeWorkloads, type WorkloadClient } from './rotation/workloads.ts';
import { createFoldMetrics, createFoldReconciler, FOLD_KEY, kubeFoldWriter, type FoldWriter } from './usage/fold.ts';

// Wires informers → handlers (which ONLY enqueue `namespace/name`) → controllers. Watches are kept
// small: Secrets only by our labels, records and usage only in the records namespace.

export const WORKLOAD_SECRET_SELECTOR = `${LABELS.workloadSecret}=true,${LABELS.managedBy}=${MANAGED_BY}`;
export const USAGE_SELECTOR = `${LABELS.usage}=true`;

/**
 * Restart targets are reconciled this long after the first key change that concerns them; changes
 * arriving meanwhile ride along (the queue keeps the earliest deadline): one rollout for keys that
 * change together. Short against a rollout, long against the few writes of one rotation.
 */
export const RESTART_DEBOUNCE_MS = 2_000;

/**
 * The planner reads managedFields for one thing: who last changed the spec or the rotate annotation
 * (the audit actor, operator/apikey/plan.ts). The cache keeps exactly that much of them.
 */
export const ACTOR_FIELD_PATHS = [['f:spec'], ['f:metadata', 'f:annotations', `f:${ANNOTATIONS.rotate}`]] as const;
const compactApiKey = (ak: ApiKeyObject): ApiKeyObject => ({
  ...ak,
  metadata: compactMetadata(ak.metadata, pruneManagedFields(ak.metadata?.managedFields, ACTOR_FIELD_PATHS)),
});

export interface RegisterOptions {
  /** Wraps the ApiKey controller's writer (tests: crash injection). */
  wrapWriter?: (writer: ApiKeyWriter) => ApiKeyWriter;
  /** Wraps the restart-target controller's workload client (tests: crash injection). */
  wrapWorkloads?: (workloads: WorkloadClient) => WorkloadClient;
  restartDebounceMs?: number;
  recheckMissingTargetMs?: number;
  /** Wraps the usage fold's writer (tests: crash injection). */
  wrapFoldWriter?: (writer: FoldWriter) => FoldWriter;
  /** Reports not rewritten for this long are folded into the archive (operator/usage/fold.ts default). */
  usageFoldAfterMs?: number;
  usageFoldPeriodMs?: number;
}

/**
 * The ApiKey and Team caches, one watch each, for every controller of the process: the audit trail's and the
 * reminders' controllers read these instead of opening their own (one copy of every ApiKey in memory, not three).
 */
export interface SharedInformers {
  apiKeys: CachedInformer<ApiKeyObject>;
  teams: CachedInformer<TeamObject>;
}

export async function registerControllers(ctx: OperatorContext, opts: RegisterOptions = {}): Promise<void> {
  await registerKeyControllers(ctx, opts);
}

/** registerControllers, returning the ApiKey and Team caches for the controllers registered after it. */
export async function registerKeyControllers(
  ctx: OperatorContext,
  opts: RegisterOptions = {},
): Promise<SharedInformers> {
  const ns = ctx.recordsNamespace;
  const watched = ctx.watchNamespace ? { namespace: ctx.watchNamespace } : {};
  const apiKeys = ctx.customObjectInformer<ApiKeyObject>({
    group: GROUP,
    version: VERSION,
    plural: KINDS.apiKey.plural,
    ...watched,
    transform: compactApiKey,
  });
  const teams = ctx.customObjectInformer<TeamObject>({
    group: GROUP,
    version: VERSION,
    plural: KINDS.team.plural,
    ...watched,
  });
  const secrets = ctx.secretInformer({
    labelSelector: WORKLOAD_SECRET_SELECTOR,
    resource: 'workload-secrets',
    ...watched,
  });
  const records = ctx.secretInformer({ namespace: ns, labelSelector: RECORD_SELECTOR, resource: 'records' });
  const usage = ctx.createInformer<V1ConfigMap>({
    resource: 'usage-reports',
    path: resourcePath(CONFIG_MAPS, { namespace: ns }),
    labelSelector: USAGE_SELECTOR,
    list: (page) => listObjects(ctx.kube, CONFIG_MAPS, { namespace: ns, labelSelector: USAGE_SELECTOR, ...page }),
    transform: compactObject,
  });

  const allowlists = allowlistSources(ctx);
  const recordIndex = new RecordIndex(records, ns);
  const usageIndex = new UsageIndex(usage);
  const writer = (opts.wrapWriter ?? ((w) => w))(createKubeWriter(ctx.kube));
  const restartTracker = new RestartTargetTracker();
  const apiKeyQueue = ctx.runController(
    createApiKeyReconciler({
      apiKeys,
      teams,
      secrets,
      records,
      recordIndex,
      usage: usageIndex,
      writer,
      clock: ctx.clock,
      recordsNamespace: ns,
      audit: (a) => ctx.audit({ ...a, apiKey: a.apiKey as `${string}/${string}` }),
      metrics: createApiKeyMetrics(ctx.metrics.registry),
      restartTargets: restartTracker,
      allowlists: allowlists.sources,
    }),
    { workers: ctx.apiKeyWorkers },
  );
  const restartQueue = ctx.runController(
    createRestartReconciler({
      apiKeys,
      secrets,
      events: writer,
      tracker: restartTracker,
      clock: ctx.clock,
      workloads: (opts.wrapWorkloads ?? ((w) => w))(createKubeWorkloads(ctx.kube)),
      onTargetStateChange: (key) => apiKeyQueue.enqueue(key),
      ...(opts.recheckMissingTargetMs !== undefined ? { recheckMissingMs: opts.recheckMissingTargetMs } : {}),
    }),
    { workers: 2 },
  );
  const debounceMs = opts.restartDebounceMs ?? RESTART_DEBOUNCE_MS;
  const enqueueTargets = (ak: ApiKeyObject) => {
    for (const t of restartTargetsOf(ak)) restartQueue.enqueueAfter(targetKey(t), debounceMs);
  };
  // Targets are looked at when the key in a Secret changes or an ApiKey's spec does — not on every
  // status write (usage reports move status all the time; each look is a GET per target).
  const specChanged = specChangeDetector<ApiKeyObject>();
  const teamSpecChanged = specChangeDetector<TeamObject>();
  const teamQueue = ctx.runController(
    createTeamReconciler({ teams, apiKeys, write: kubeTeamStatusWriter(ctx.kube), clock: ctx.clock }),
    { workers: 1 },
  );

  const teamOf = (ak: ApiKeyObject) => ak.spec?.team;
  apiKeys.onChange((ak, change) => {
    apiKeyQueue.enqueue(objectKey(ak));
    allowlists.sources.updateApiKey(ak, objectKey(ak), change);
    // The Team's status counts its keys: only an added or deleted key or a spec change (team moved;
    // deletion also bumps the generation) can change it. Every status write of every key would make
    // the Team reconcile — a scan of all keys — run back to back while 10 000 keys are issued.
    if (!specChanged(ak, change)) return;
    enqueueTargets(ak);
    const team = teamOf(ak);
    if (team) teamQueue.enqueue(`${ak.metadata?.namespace}/${team}`);
  });
  const enqueueKeysOfTeam = (namespace: string | undefined, name: string | undefined) => {
    for (const ak of apiKeys.list(namespace)) if (teamOf(ak) === name) apiKeyQueue.enqueue(objectKey(ak));
  };
  teams.onChange((team, change) => {
    teamQueue.enqueue(objectKey(team));
    allowlists.sources.updateTeam(team, objectKey(team), change);
    // A Team's spec re-renders the records of all its keys (and a new Team un-blocks them). Its status
    // (the key count, written as keys come and go) is read by no key: re-reconciling every key of the
    // Team on it made each new key cost a pass over all the others.
    if (teamSpecChanged(team, change)) enqueueKeysOfTeam(team.metadata?.namespace, team.metadata?.name);
  });
  secrets.onChange((s) => {
    const owner = s.metadata?.labels?.[LABELS.apiKeyName];
    if (owner) apiKeyQueue.enqueue(`${s.metadata?.namespace}/${owner}`);
    const ak = owner ? apiKeys.get(s.metadata?.namespace, owner) : undefined;
    if (ak) enqueueTargets(ak);
  });
  records.onChange((r, change) => {
    recordIndex.update(r, change);
    const owner = RecordIndex.ownerOf(r);
    if (owner) apiKeyQueue.enqueue(owner);
  });
  // Reports of gone gateway replicas fold into one archive (operator/usage/fold.ts): a periodic pass.
  const foldQueue = ctx.runController(
    createFoldReconciler({
      reports: usage,
      namespace: ns,
      clock: ctx.clock,
      log: ctx.log.child({ controller: 'usage-fold' }),
      writer: (opts.wrapFoldWriter ?? ((w) => w))(kubeFoldWriter(ctx.kube, ns)),
      metrics: createFoldMetrics(ctx.metrics.registry),
      hasRecord: (keyId) => recordIndex.ownerOfKeyId(keyId) !== undefined,
      ...(opts.usageFoldAfterMs !== undefined ? { foldAfterMs: opts.usageFoldAfterMs } : {}),
      ...(opts.usageFoldPeriodMs !== undefined ? { periodMs: opts.usageFoldPeriodMs } : {}),
    }),
    { workers: 1 },
  );
  foldQueue.enqueue(FOLD_KEY);
  // An edited ipAllowlistFrom list re-renders the records of exactly the keys that reference it, and of
  // every key of the Teams that reference it.
  allowlists.configMaps.onChange((cm, change) => {
    for (const key of allowlists.sources.referrersOf(cm, change)) apiKeyQueue.enqueue(key);
    for (const team of allowlists.sources.teamReferrersOf(cm)) {
      const { namespace, name } = splitKey(team);
      enqueueKeysOfTeam(namespace, name);
    }
  });
  usage.onChange((cm, change) => {
    for (const keyId of usageIndex.changedKeyIds(cm, change)) {
      const owner = recordIndex.ownerOfKeyId(keyId);
      if (owner) apiKeyQueue.enqueue(owner);
    }
  });
  return { apiKeys, teams };
}
