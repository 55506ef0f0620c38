import type { ApiKeySpec, KeyEntry } from '../../api/apikey.ts';
import { ANNOTATIONS, FIELD_MANAGER, FINALIZER } from '../../api/constants.ts';
import { apiKeyDefaults, parseApiKeySpec, parseTeamSpec } from '../../api/spec.ts';
import { parseDurationMs } from '../../api/duration.ts';
import { parseExpiration, type Expiration } from '../../api/expiration.ts';
import { keyExpiry } from '../keys/expiry.ts';
import { restartTargetsOf } from '../rotation/restart-plan.ts';
import { RESTART_CONDITION, restartTargetsCondition } from '../rotation/restart-status.ts';
import { isTerminal, succeed } from '../keys/lifecycle.ts';
import { lastManagerOf } from './conditions.ts';
import { keyEvent } from './events.ts';
import { desiredRecords } from './records-plan.ts';
import { readiness, type Blocker } from './readiness.ts';
import { readRecordSecret, type StoredRecord } from './record.ts';
import { effectiveScopes } from './scopes.ts';
import { buildStatus } from './status.ts';
import { applyTransitions } from './transitions.ts';
import type { ApplyPlan, AuditEntry, Plan, PlanInputs, PlannedEvent } from './types.ts';
import { desiredWorkloadSecret, inspectWorkloadSecret } from './workload-secret.ts';

// plan(inputs, now): the whole ApiKey reconcile decision as a pure function (docs/design.md §5). The apply step
// executes it; when it asks for a key ({kind:'mint'}), the apply step generates one and plans again
// with `minted` set, so the plaintext is never part of planning. See operator/keys/lifecycle.ts for the
// lifecycle and the crash-safety argument.

const DAY_MS = 86_400_000;
const optional = <T>(x: T | undefined): T[] => (x === undefined ? [] : [x]);
const SOON_MS = 7 * DAY_MS;

interface Issue {
  reason: 'Created' | 'Reissued' | 'SecretLost' | 'RotationRequested' | 'AutomaticRotation';
  predecessor: string | undefined;
  actor: string;
}

/**
 * Instant (ms) at which automatic rotation generates the successor: rotation.before ahead of expiry,
 * but never before half the key's lifetime — a `before` at least as long as the lifetime (30d keys with
 * before: 45d, or a Team maxExpiration shorter than before) would otherwise make every new key due at
 * once: a rotation loop. And only when the successor would outlive the key: with a fixed datetime
 * expiration every successor expires at the same instant, so rotating could only churn key ids.
 */
function autoRotationAt(spec: ApiKeySpec, current: KeyEntry | undefined, expiration: Expiration, teamMaxMs: number | undefined): number | undefined {
  if (!spec.rotation?.automatic || current?.state !== 'Active' || !current.expiresAt) return undefined;
  const expiresAt = Date.parse(current.expiresAt);
  const createdAt = Date.parse(current.createdAt);
  const lifetime = expiresAt - createdAt;
  const before = (spec.rotation.before && parseDurationMs(spec.rotation.before)) || Math.floor(lifetime / 3);
  const at = Math.max(expiresAt - before, createdAt + Math.floor(lifetime / 2));
  const successorExpiry = keyExpiry(expiration, new Date(at), teamMaxMs).expiresAt;
  return successorExpiry === null || successorExpiry.getTime() > expiresAt ? at : undefined;
}

function cleanupPlan(records: readonly StoredRecord[], extra: Partial<ApplyPlan> = {}): ApplyPlan {
  return { kind: 'apply', records: [], deleteRecords: records.map((r) => r.name), events: [], audit: [], ...extra };
}

export function plan(inp: PlanInputs, now: Date): Plan {
  const ak = inp.apiKey;
  const stored = inp.records.map(readRecordSecret);
  // ApiKey gone (its finalizer was removed by hand, or records of an older incarnation): records go.
  if (!ak?.metadata?.uid) return cleanupPlan(stored);
  const meta = ak.metadata;
  const uid = meta.uid!;
  const apiKeyRef = `${inp.namespace}/${inp.name}`;
  const hasFinalizer = meta.finalizers?.includes(FINALIZER) ?? false;
  const operator = inp.operatorIdentity;
  const specManager = lastManagerOf(meta.managedFields, ['f:spec'], [FIELD_MANAGER]);
  const specActor = specManager ? `user:${specManager}` : 'user:unknown';

  if (meta.deletionTimestamp) {
    if (!hasFinalizer) return cleanupPlan(stored);
    const audit: AuditEntry[] = (ak.status?.keys ?? [])
      .filter((k) => !isTerminal(k.state))
      .map((k) => ({ action: 'revoke', apiKey: apiKeyRef, keyId: k.id, actor: operator, reason: 'ApiKey deleted' }));
    return cleanupPlan(stored, { finalizer: 'remove', audit });
  }

  const parsed = parseApiKeySpec(ak);
  const prev = ak.status;
  const events: PlannedEvent[] = [];
  const audit: AuditEntry[] = [];
  const deleteRecords = stored.filter((r) => r.uid !== uid).map((r) => r.name);
  const owned = stored.filter((r) => r.uid === uid && r.keyId !== undefined);
  const finalizer = hasFinalizer ? undefined : ('add' as const);
  if (!parsed.ok) {
    const message = parsed.error;
    const { status, events: ev } = buildStatus({
      apiKeyName: inp.name, previous: prev, generation: meta.generation, readiness: { ready: false, reason: 'InvalidSpec', message },
      current: undefined, keys: prev?.keys ?? [], waiting: [], revokedBySpec: false, secretName: '', usage: prev?.usage ?? { requests: 0, credits: 0 },
      lastRotationRequest: prev?.lastRotationRequest, soonMs: SOON_MS, now,
    });
    return { kind: 'apply', finalizer, records: [], deleteRecords, status, events: ev, audit };
  }
  const spec = parsed.spec;
  const teamParsed = inp.team ? parseTeamSpec(inp.team) : undefined;
  const teamSpec = teamParsed?.ok ? teamParsed.spec : undefined;
  const defaults = apiKeyDefaults(inp.name, spec, teamSpec);
  const { name: secretName, key: dataKey } = defaults.secret;
  const inspection = inspectWorkloadSecret(inp.secret, dataKey, inp.name);

  let keys: KeyEntry[] = (prev?.keys ?? []).map((k) => ({ ...k }));
  let currentId = prev?.currentKeyId;
  const hashes = new Map<string, string>();
  const recordById = new Map(owned.map((r) => [r.keyId!, r]));
  for (const r of owned) if (r.record) hashes.set(r.keyId!, r.record.hash);

  // Crash recovery: the Secret names a key id status never recorded, and its record verifies it.
  // The interrupted issue is completed as it would have been: its KeyIssued / KeySuperseded Events
  // (same names: AlreadyExists if they were sent before the crash), its audit entry (at least once),
  // and the rotation request it was issued for counts as served — otherwise a pending rotate
  // annotation would mint a second successor on top of the adopted one.
  const valid = inspection.valid;
  let adopted = false;
  if (valid && !keys.some((k) => k.id === valid.keyId) && hashes.get(valid.keyId) === valid.hash) {
    const predecessor = keys.find((k) => k.id === currentId && k.state === 'Active')?.id;
    keys = succeed(keys, currentId, { keyId: valid.keyId, hint: valid.hint, createdAt: recordById.get(valid.keyId)?.createdAt ?? now.toISOString() }, now);
    events.push(keyEvent(inp.name, valid.keyId, 'Normal', 'KeyAdopted', `key id ${valid.keyId} found in Secret ${secretName} with a matching record (an interrupted issue completed)`));
    events.push(keyEvent(inp.name, valid.keyId, 'Normal', 'KeyIssued', `key id ${valid.keyId} (…${valid.hint}) issued into Secret ${secretName} (completed after an interruption)`));
    if (predecessor) events.push(keyEvent(inp.name, predecessor, 'Normal', 'KeySuperseded', `key id ${predecessor} superseded by ${valid.keyId}; it stays valid until the hand-off completes`));
    audit.push({ action: predecessor ? 'rotate' : 'create', apiKey: apiKeyRef, keyId: valid.keyId, actor: operator, reason: 'IssueCompletedAfterInterruption', ...(predecessor ? { relatedKeyId: predecessor } : {}) });
    currentId = valid.keyId;
    adopted = true;
  }

  // Which scopes, and what stops a key from being usable / issued.
  const scopes = teamSpec ? effectiveScopes(spec, teamSpec) : undefined;
  const teamMaxMs = teamSpec?.maxExpiration ? parseDurationMs(teamSpec.maxExpiration) : undefined;
  const expiration = parseExpiration(spec.expiration) ?? { kind: 'never' as const };
  const blockers: Blocker[] = [];
  if (!inp.team) blockers.push({ reason: 'TeamNotFound', suspends: true, message: `Team "${spec.team}" not found in namespace ${inp.namespace}: create it or fix spec.team` });
  else if (!teamSpec) blockers.push({ reason: 'TeamInvalid', suspends: true, message: `Team "${spec.team}" has an invalid spec; fix the Team` });
  else if (scopes?.empty === 'models') blockers.push({ reason: 'NoAllowedModels', suspends: true, message: `none of the requested models (${scopes.refusedModels.join(', ')}) is allowed by Team "${spec.team}" (allows ${teamSpec.allowedModels.join(', ')}): change spec.allowedModels or the Team` });
  else if (scopes?.empty === 'endpoints') blockers.push({ reason: 'NoAllowedEndpoints', suspends: true, message: `none of the requested endpoints (${scopes.refusedEndpoints.join(', ')}) is allowed by Team "${spec.team}" (allows ${(teamSpec.allowedEndpoints ?? []).join(', ')}): change spec.allowedEndpoints or the Team` });
  if (inspection.exists && !inspection.ours) blockers.push({ reason: 'SecretConflict', suspends: false, message: `Secret ${inp.namespace}/${secretName} exists and is not managed by nemokeys: delete it or set spec.secret.name to another name` });
  const suspension = blockers.find((b) => b.suspends)?.reason;
  const pastDatetime = expiration.kind === 'datetime' && expiration.at.getTime() <= now.getTime();

  // Does this reconcile issue a new key id?
  const current = keys.find((k) => k.id === currentId);
  const currentHash = current ? hashes.get(current.id) : undefined;
  const secretHoldsCurrent = current !== undefined && valid?.keyId === current.id && (currentHash === undefined || currentHash === valid.hash);
  if (current && secretHoldsCurrent && currentHash === undefined) hashes.set(current.id, valid!.hash); // record lost: the Secret still proves the hash
  const rotateRequest = meta.annotations?.[ANNOTATIONS.rotate];
  const rotationRequested = rotateRequest !== undefined && rotateRequest !== prev?.lastRotationRequest && !adopted;
  const rotateManager = lastManagerOf(meta.managedFields, ['f:metadata', 'f:annotations', `f:${ANNOTATIONS.rotate}`], [FIELD_MANAGER]);
  const rotateActor = rotateManager ? `user:${rotateManager}` : specActor;
  const currentExpiry = current ? keyExpiry(expiration, new Date(current.createdAt), teamMaxMs).expiresAt : null;
  const autoAt = autoRotationAt(spec, current && currentExpiry ? { ...current, expiresAt: currentExpiry.toISOString() } : undefined, expiration, teamMaxMs);
  let issue: Issue | undefined;
  if (!spec.revoked) {
    const active = current?.state === 'Active' ? current.id : undefined;
    if (!current) issue = { reason: 'Created', predecessor: undefined, actor: specActor };
    else if (current.state === 'Active' && !secretHoldsCurrent) issue = { reason: 'SecretLost', predecessor: active, actor: operator };
    else if (rotationRequested) issue = { reason: 'RotationRequested', predecessor: active, actor: rotateActor };
    else if (current.state === 'Revoked') issue = { reason: 'Reissued', predecessor: undefined, actor: specActor };
    else if (autoAt !== undefined && now.getTime() >= autoAt) issue = { reason: 'AutomaticRotation', predecessor: active, actor: operator };
    else if (current.state === 'Expired' && spec.rotation?.automatic) issue = { reason: 'AutomaticRotation', predecessor: undefined, actor: operator };
  }
  let lastRotationRequest = adopted ? (rotateRequest ?? prev?.lastRotationRequest) : prev?.lastRotationRequest;
  const mintBlocked = blockers.length > 0 || pastDatetime;
  if (issue && !mintBlocked) {
    if (!inp.minted) return { kind: 'mint', environment: spec.environment, reason: issue.reason };
    const m = inp.minted;
    keys = succeed(keys, issue.predecessor, { keyId: m.keyId, hint: m.hint }, now);
    hashes.set(m.keyId, m.hash);
    currentId = m.keyId;
    lastRotationRequest = rotateRequest ?? lastRotationRequest;
    const initial = issue.reason === 'Created' || issue.reason === 'Reissued';
    audit.push({ action: initial ? 'create' : 'rotate', apiKey: apiKeyRef, keyId: m.keyId, actor: issue.actor, reason: issue.reason, ...(issue.predecessor ? { relatedKeyId: issue.predecessor } : {}) });
    events.push(keyEvent(inp.name, m.keyId, 'Normal', 'KeyIssued', `key id ${m.keyId} (…${m.hint}) issued into Secret ${secretName} (${issue.reason})`));
    if (issue.predecessor) {
      const type = issue.reason === 'SecretLost' ? 'Warning' : 'Normal';
      const why = issue.reason === 'SecretLost' ? `Secret ${secretName} was deleted or no longer holds it` : issue.reason;
      events.push(keyEvent(inp.name, issue.predecessor, type, 'KeySuperseded', `key id ${issue.predecessor} superseded by ${m.keyId} (${why}); it stays valid until the hand-off completes`));
    }
  }

  const t = applyTransitions({
    apiKeyRef, apiKeyName: inp.name, keys, currentId, hashes, usage: inp.usage, expiration, teamMaxMs,
    revokedBySpec: spec.revoked, revokedKeyIds: new Set(spec.revokedKeyIds ?? []), specActor, operator, handoff: defaults.handoff, now,
  });
  events.push(...t.events);
  audit.push(...t.audit);
  const recordsPlan = desiredRecords({
    keys: t.keys, hashes, owned, deleteRecords, now, recordsNamespace: inp.recordsNamespace, suspension, spec, scopes,
    owner: { namespace: inp.namespace, name: inp.name, uid, team: spec.team },
  });
  const finalCurrent = recordsPlan.keys.find((k) => k.id === currentId);
  const secretKeyId = inp.minted && currentId === inp.minted.keyId ? currentId : valid?.keyId === currentId ? currentId : undefined;
  const secret = secretKeyId && !blockers.some((b) => b.reason === 'SecretConflict') ? desiredWorkloadSecret(ak, secretName, dataKey, secretKeyId, spec.team) : undefined;

  const ready = readiness({ blockers, current: finalCurrent, revoked: spec.revoked, pastDatetime, expirationText: spec.expiration, scopes, teamName: spec.team, teamMax: teamSpec?.maxExpiration, capped: t.currentCapped, secretName, namespace: inp.namespace, hasSecret: secretKeyId !== undefined });
  const prevUsage = prev?.usage ?? { requests: 0, credits: 0 };
  const { status, events: readyEv } = buildStatus({
    apiKeyName: inp.name, previous: prev, generation: meta.generation, readiness: ready, current: finalCurrent, keys: recordsPlan.keys,
    waiting: t.waiting, manualHandoff: defaults.handoff.mode === 'Manual', revokedBySpec: spec.revoked, revokedKeyIds: spec.revokedKeyIds, secretName,
    usage: { requests: prevUsage.requests + t.usageDelta.requests, credits: prevUsage.credits + t.usageDelta.credits },
    lastRotationRequest, soonMs: SOON_MS, now,
    extraConditions: optional(restartTargetsCondition(restartTargetsOf(ak), inp.restartTargets, prev?.conditions?.find((c) => c.type === RESTART_CONDITION))),
  });
  events.push(...readyEv);

  const wakes = [...t.wakes];
  const nextAuto = autoRotationAt(spec, finalCurrent, expiration, teamMaxMs);
  if (nextAuto !== undefined && nextAuto > now.getTime()) wakes.push(nextAuto);
  const soonest = wakes.filter((w) => w > now.getTime()).sort((a, b) => a - b)[0];
  const result: ApplyPlan = { kind: 'apply', records: recordsPlan.records, deleteRecords: recordsPlan.deleteRecords, status, events, audit };
  if (finalizer) result.finalizer = finalizer;
  if (secret) result.secret = secret;
  if (soonest !== undefined) result.requeueAfterMs = soonest - now.getTime();
  return result;
}
