import type { ApiKeySpec, KeyEntry } from '../../api/apikey.ts';
import { ANNOTATIONS, FIELD_MANAGER } from '../../api/constants.ts';
import { parseDurationMs } from '../../api/duration.ts';
import { parseExpiration, type Expiration } from '../../api/expiration.ts';
import { apiKeyDefaults, parseApiKeySpec, parseTeamSpec, type ApiKeyDefaults } from '../../api/spec.ts';
import type { TeamSpec } from '../../api/team.ts';
import { keyExpiry } from '../keys/expiry.ts';
import { succeed } from '../keys/lifecycle.ts';
import { restartTargetsOf } from '../rotation/restart-plan.ts';
import { RESTART_CONDITION, restartTargetsCondition } from '../rotation/restart-status.ts';
import { blockersOf } from './blockers.ts';
import { lastManagerOf } from './conditions.ts';
import { keyEvent } from './events.ts';
import { autoRotationAt, issueDecision, type Issue } from './issue-policies.ts';
import { firstDecision } from './policies.ts';
import { readiness, type Blocker } from './readiness.ts';
import { readRecordSecret, type StoredRecord } from './record.ts';
import { desiredRecords } from './records-plan.ts';
import { effectiveScopes, type EffectiveScopes, type SourceLists } from './scopes.ts';
import { buildStatus, SOON_MS } from './status.ts';
import { apiKeyRef, ENDINGS, finalizerToAdd, ownership, type Start } from './endings.ts';
import { applyTransitions } from './transitions.ts';
import type {
  ApiKeyObject,
  ApplyPlan,
  AuditEntry,
  MintedKey,
  Plan,
  PlanInputs,
  PlannedEvent,
  ResolvedAllowlist,
} from './types.ts';
import { desiredWorkloadSecret, inspectWorkloadSecret, type SecretInspection } from './workload-secret.ts';

// plan(inputs, now): the whole ApiKey reconcile decision as a pure function, read as a chain of named
// steps (docs/design.md §5). The apply step executes it; when it asks for a key ({kind:'mint'}), the apply
// step generates one and plans again with `minted` set, so the plaintext is never part of planning.
// See operator/keys/lifecycle.ts for the lifecycle and the crash-safety argument.

const optional = <T>(x: T | undefined): T[] => (x === undefined ? [] : [x]);

export function plan(inp: PlanInputs, now: Date): Plan {
  const start: Start = { inp, now, stored: inp.records.map(readRecordSecret) };
  return firstDecision(ENDINGS, start) ?? planLiveApiKey(start);
}

// ---- A live ApiKey: what is known, then each decision in turn. ----

/** What every step reads: the inputs, parsed once. */
interface Known extends Start {
  ak: ApiKeyObject;
  uid: string;
  ref: string;
  spec: ApiKeySpec;
  teamSpec: TeamSpec | undefined;
  defaults: ApiKeyDefaults;
  inspection: SecretInspection;
  owned: StoredRecord[];
  deleteRecords: string[];
  scopes: EffectiveScopes | undefined;
  teamMaxMs: number | undefined;
  expiration: Expiration;
  specActor: string;
}

/** What the steps build up, in order (Events and audit lines keep the order they were decided in). */
interface Draft {
  keys: KeyEntry[];
  currentId: string | undefined;
  hashes: Map<string, string>;
  events: PlannedEvent[];
  audit: AuditEntry[];
  adopted: boolean;
  lastRotationRequest: string | undefined;
}

function know(start: Start): Known {
  const { inp } = start;
  const ak = inp.apiKey!;
  const parsed = parseApiKeySpec(ak);
  if (!parsed.ok) throw new Error('unreachable: specInvalid ends the plan first');
  const spec = parsed.spec;
  const teamParsed = inp.team ? parseTeamSpec(inp.team) : undefined;
  const teamSpec = teamParsed?.ok ? teamParsed.spec : undefined;
  const defaults = apiKeyDefaults(inp.name, spec, teamSpec);
  const specManager = lastManagerOf(ak.metadata?.managedFields, ['f:spec'], [FIELD_MANAGER]);
  const uid = ak.metadata!.uid!;
  return {
    ...start,
    ak,
    uid,
    ref: apiKeyRef(inp),
    spec,
    teamSpec,
    defaults,
    ...ownership(start.stored, uid),
    inspection: inspectWorkloadSecret(inp.secret, defaults.secret.key, inp.name),
    scopes: teamSpec ? effectiveScopes(spec, teamSpec, sourceLists(inp, teamSpec)) : undefined,
    teamMaxMs: teamSpec?.maxExpiration ? parseDurationMs(teamSpec.maxExpiration) : undefined,
    expiration: parseExpiration(spec.expiration) ?? { kind: 'never' as const },
    specActor: specManager ? `user:${specManager}` : 'user:unknown',
  };
}

/**
 * The lists read for the key's and its Team's spec.ipAllowlistFrom. A Team list not read (yet) counts as
 * allowing nothing, never as "no Team list": the key fails closed (blockers name why).
 */
function sourceLists(inp: PlanInputs, teamSpec: TeamSpec): SourceLists {
  const read = (r: ResolvedAllowlist | undefined) => (r?.ok ? r.cidrs : []);
  const lists: SourceLists = { key: read(inp.ipAllowlistFrom) };
  if (teamSpec.ipAllowlistFrom?.length) lists.team = read(inp.teamIpAllowlistFrom);
  return lists;
}

function startDraft(k: Known): Draft {
  const prev = k.ak.status;
  const hashes = new Map<string, string>();
  for (const r of k.owned) if (r.record) hashes.set(r.keyId!, r.record.hash);
  return {
    keys: (prev?.keys ?? []).map((e) => ({ ...e })),
    currentId: prev?.currentKeyId,
    hashes,
    events: [],
    audit: [],
    adopted: false,
    lastRotationRequest: prev?.lastRotationRequest,
  };
}

function planLiveApiKey(start: Start): Plan {
  const k = know(start);
  const d = startDraft(k);
  adoptInterruptedIssue(k, d);
  recoverLostRecordHash(k, d);
  const blockers = blockersOf({
    namespace: k.inp.namespace,
    spec: k.spec,
    teamExists: k.inp.team !== undefined,
    teamSpec: k.teamSpec,
    scopes: k.scopes,
    inspection: k.inspection,
    secretName: k.defaults.secret.name,
    allowlistFrom: k.inp.ipAllowlistFrom,
    teamAllowlistFrom: k.inp.teamIpAllowlistFrom,
  });
  const pastDatetime = k.expiration.kind === 'datetime' && k.expiration.at.getTime() <= k.now.getTime();
  const issue = issueDecision(issueInputs(k, d));
  if (issue && blockers.length === 0 && !pastDatetime) {
    if (!k.inp.minted) return { kind: 'mint', environment: k.spec.environment, reason: issue.reason };
    recordIssue(k, d, issue, k.inp.minted);
  }
  return applyPlan(k, d, blockers, pastDatetime);
}

/**
 * Crash recovery: the Secret names a key id status never recorded, and its record verifies it.
 * The interrupted issue is completed as it would have been: its KeyIssued / KeySuperseded Events
 * (same names: AlreadyExists if they were sent before the crash), its audit entry (at least once),
 * and the rotation request it was issued for counts as served — otherwise a pending rotate
 * annotation would mint a second successor on top of the adopted one.
 */
function adoptInterruptedIssue(k: Known, d: Draft): void {
  const valid = k.inspection.valid;
  if (!valid || d.keys.some((e) => e.id === valid.keyId) || d.hashes.get(valid.keyId) !== valid.hash) return;
  const { name } = k.inp;
  const secretName = k.defaults.secret.name;
  const predecessor = d.keys.find((e) => e.id === d.currentId && e.state === 'Active')?.id;
  const createdAt = k.owned.findLast((r) => r.keyId === valid.keyId)?.createdAt ?? k.now.toISOString();
  d.keys = succeed(d.keys, d.currentId, { keyId: valid.keyId, hint: valid.hint, createdAt }, k.now);
  d.events.push(
    keyEvent(
      name,
      valid.keyId,
      'Normal',
      'KeyAdopted',
      `key id ${valid.keyId} found in Secret ${secretName} with a matching record (an interrupted issue completed)`,
    ),
  );
  d.events.push(
    keyEvent(
      name,
      valid.keyId,
      'Normal',
      'KeyIssued',
      `key id ${valid.keyId} (…${valid.hint}) issued into Secret ${secretName} (completed after an interruption)`,
    ),
  );
  if (predecessor) {
    d.events.push(
      keyEvent(
        name,
        predecessor,
        'Normal',
        'KeySuperseded',
        `key id ${predecessor} superseded by ${valid.keyId}; it stays valid until the hand-off completes`,
      ),
    );
  }
  d.audit.push({
    action: predecessor ? 'rotate' : 'create',
    apiKey: k.ref,
    keyId: valid.keyId,
    actor: k.inp.operatorIdentity,
    reason: 'IssueCompletedAfterInterruption',
    ...(predecessor ? { relatedKeyId: predecessor } : {}),
  });
  d.currentId = valid.keyId;
  d.adopted = true;
  d.lastRotationRequest = k.ak.metadata?.annotations?.[ANNOTATIONS.rotate] ?? d.lastRotationRequest;
}

/** Whether the workload Secret holds the current key (and its hash matches the record, when there is one). */
function secretHoldsCurrent(k: Known, d: Draft): boolean {
  const valid = k.inspection.valid;
  const currentHash = d.currentId === undefined ? undefined : d.hashes.get(d.currentId);
  const current = d.keys.find((e) => e.id === d.currentId);
  if (current === undefined || valid?.keyId !== current.id) return false;
  return currentHash === undefined || currentHash === valid.hash;
}

/** The current key's record was lost: the Secret still proves its hash, so the record is written again. */
function recoverLostRecordHash(k: Known, d: Draft): void {
  const valid = k.inspection.valid;
  if (valid && secretHoldsCurrent(k, d) && !d.hashes.has(valid.keyId)) d.hashes.set(valid.keyId, valid.hash);
}

/** The facts the issue chain decides on. */
function issueInputs(k: Known, d: Draft) {
  const meta = k.ak.metadata!;
  const current = d.keys.find((e) => e.id === d.currentId);
  const rotateRequest = meta.annotations?.[ANNOTATIONS.rotate];
  const rotateManager = lastManagerOf(
    meta.managedFields,
    ['f:metadata', 'f:annotations', `f:${ANNOTATIONS.rotate}`],
    [FIELD_MANAGER],
  );
  const currentExpiry = current ? keyExpiry(k.expiration, new Date(current.createdAt), k.teamMaxMs).expiresAt : null;
  const withExpiry = current && currentExpiry ? { ...current, expiresAt: currentExpiry.toISOString() } : undefined;
  return {
    spec: k.spec,
    current,
    secretHoldsCurrent: secretHoldsCurrent(k, d),
    rotationRequested: rotateRequest !== undefined && rotateRequest !== k.ak.status?.lastRotationRequest && !d.adopted,
    autoRotationAt: autoRotationAt(k.spec, withExpiry, k.expiration, k.teamMaxMs),
    nowMs: k.now.getTime(),
    specActor: k.specActor,
    operator: k.inp.operatorIdentity,
    rotateActor: rotateManager ? `user:${rotateManager}` : k.specActor,
  };
}

/** The minted key becomes current; its predecessor (if any) starts handing off. */
function recordIssue(k: Known, d: Draft, issue: Issue, m: MintedKey): void {
  const secretName = k.defaults.secret.name;
  d.keys = succeed(d.keys, issue.predecessor, { keyId: m.keyId, hint: m.hint }, k.now);
  d.hashes.set(m.keyId, m.hash);
  d.currentId = m.keyId;
  d.lastRotationRequest = k.ak.metadata?.annotations?.[ANNOTATIONS.rotate] ?? d.lastRotationRequest;
  const initial = issue.reason === 'Created' || issue.reason === 'Reissued';
  d.audit.push({
    action: initial ? 'create' : 'rotate',
    apiKey: k.ref,
    keyId: m.keyId,
    actor: issue.actor,
    reason: issue.reason,
    ...(issue.predecessor ? { relatedKeyId: issue.predecessor } : {}),
  });
  d.events.push(
    keyEvent(
      k.inp.name,
      m.keyId,
      'Normal',
      'KeyIssued',
      `key id ${m.keyId} (…${m.hint}) issued into Secret ${secretName} (${issue.reason})`,
    ),
  );
  if (issue.predecessor) {
    const lost = issue.reason === 'SecretLost';
    const why = lost ? `Secret ${secretName} was deleted or no longer holds it` : issue.reason;
    d.events.push(
      keyEvent(
        k.inp.name,
        issue.predecessor,
        lost ? 'Warning' : 'Normal',
        'KeySuperseded',
        `key id ${issue.predecessor} superseded by ${m.keyId} (${why}); it stays valid until the hand-off completes`,
      ),
    );
  }
}

/** Transitions (hand-off, expiry, revocation), then the records, the workload Secret, status and wake-up. */
function applyPlan(k: Known, d: Draft, blockers: readonly Blocker[], pastDatetime: boolean): ApplyPlan {
  const { inp, spec, now } = k;
  const { name: secretName, key: dataKey } = k.defaults.secret;
  const t = applyTransitions({
    apiKeyRef: k.ref,
    apiKeyName: inp.name,
    keys: d.keys,
    currentId: d.currentId,
    hashes: d.hashes,
    usage: inp.usage,
    expiration: k.expiration,
    teamMaxMs: k.teamMaxMs,
    revokedBySpec: spec.revoked,
    revokedKeyIds: new Set(spec.revokedKeyIds ?? []),
    specActor: k.specActor,
    operator: inp.operatorIdentity,
    handoff: k.defaults.handoff,
    now,
  });
  const events = [...d.events, ...t.events];
  const audit = [...d.audit, ...t.audit];
  const recordsPlan = desiredRecords({
    keys: t.keys,
    hashes: d.hashes,
    owned: k.owned,
    deleteRecords: k.deleteRecords,
    now,
    recordsNamespace: inp.recordsNamespace,
    suspension: blockers.find((b) => b.suspends)?.reason,
    spec,
    scopes: k.scopes,
    owner: { namespace: inp.namespace, name: inp.name, uid: k.uid, team: spec.team },
  });
  const current = recordsPlan.keys.find((e) => e.id === d.currentId);
  const secretKeyId = secretKeyIdToWrite(k, d);
  const conflict = blockers.some((b) => b.reason === 'SecretConflict');
  const secret =
    secretKeyId && !conflict ? desiredWorkloadSecret(k.ak, secretName, dataKey, secretKeyId, spec.team) : undefined;

  const ready = readiness({
    blockers,
    current,
    revoked: spec.revoked,
    pastDatetime,
    expirationText: spec.expiration,
    scopes: k.scopes,
    teamName: spec.team,
    teamMax: k.teamSpec?.maxExpiration,
    capped: t.currentCapped,
    secretName,
    namespace: inp.namespace,
    hasSecret: secretKeyId !== undefined,
  });
  const prev = k.ak.status;
  const prevUsage = prev?.usage ?? { requests: 0, credits: 0 };
  const restartCondition = restartTargetsCondition(
    restartTargetsOf(k.ak),
    inp.restartTargets,
    prev?.conditions?.find((c) => c.type === RESTART_CONDITION),
  );
  const { status, events: readyEvents } = buildStatus({
    apiKeyName: inp.name,
    previous: prev,
    generation: k.ak.metadata?.generation,
    readiness: ready,
    current,
    keys: recordsPlan.keys,
    waiting: t.waiting,
    manualHandoff: k.defaults.handoff.mode === 'Manual',
    revokedBySpec: spec.revoked,
    revokedKeyIds: spec.revokedKeyIds,
    secretName,
    usage: { requests: prevUsage.requests + t.usageDelta.requests, credits: prevUsage.credits + t.usageDelta.credits },
    lastRotationRequest: d.lastRotationRequest,
    soonMs: SOON_MS,
    now,
    extraConditions: optional(restartCondition),
  });
  events.push(...readyEvents);

  const result: ApplyPlan = {
    kind: 'apply',
    records: recordsPlan.records,
    deleteRecords: recordsPlan.deleteRecords,
    status,
    events,
    audit,
  };
  const finalizer = finalizerToAdd(k.ak);
  if (finalizer) result.finalizer = finalizer;
  if (secret) result.secret = secret;
  const wake = nextWake(k, t.wakes, current);
  if (wake !== undefined) result.requeueAfterMs = wake - now.getTime();
  return result;
}

/** The workload Secret is written for a key just minted, or kept for the current key it already holds. */
function secretKeyIdToWrite(k: Known, d: Draft): string | undefined {
  if (k.inp.minted && d.currentId === k.inp.minted.keyId) return d.currentId;
  return k.inspection.valid?.keyId === d.currentId ? d.currentId : undefined;
}

/** The soonest future instant a transition or the next automatic rotation needs a reconcile. */
function nextWake(k: Known, transitionWakes: readonly number[], current: KeyEntry | undefined): number | undefined {
  const wakes = [...transitionWakes];
  const nextAuto = autoRotationAt(k.spec, current, k.expiration, k.teamMaxMs);
  if (nextAuto !== undefined && nextAuto > k.now.getTime()) wakes.push(nextAuto);
  return wakes.filter((w) => w > k.now.getTime()).sort((a, b) => a - b)[0];
}
