// The decisions behind rotate / revoke / duplicate, as pure functions of the object read from the
// server, so every branch is table-tested without a cluster.
import { ANNOTATIONS, API_VERSION, KINDS } from '../../api/index.ts';
import type { ApiKeyObject } from './model.ts';
import { currentEntry, knownKeyIds, supersededIds, workloadSecret } from './model.ts';

/**
 * A fresh RFC 3339 value for the rotate annotation. The operator acts on every new value, so two
 * requests in the same millisecond must still differ: bump past the current value if needed.
 */
export function nextRotateValue(current: string | undefined, now: Date): string {
  let at = now.getTime();
  const prev = current === undefined ? Number.NaN : Date.parse(current);
  if (!Number.isNaN(prev) && prev >= at) at = prev + 1;
  return new Date(at).toISOString();
}

export type RotatePlan =
  | { kind: 'refuse'; reason: string }
  | { kind: 'patch'; value: string; previousKeyId: string | undefined };

export function planRotate(obj: ApiKeyObject, now: Date): RotatePlan {
  if (obj.spec?.revoked) {
    return {
      kind: 'refuse',
      reason:
        `ApiKey ${obj.metadata.name} is revoked (spec.revoked=true): there is no key to rotate. ` +
        `Create a new one with "keys duplicate ${obj.metadata.name} NEW-NAME".`,
    };
  }
  if (obj.metadata.deletionTimestamp) {
    return { kind: 'refuse', reason: `ApiKey ${obj.metadata.name} is being deleted.` };
  }
  return {
    kind: 'patch',
    value: nextRotateValue(obj.metadata.annotations?.[ANNOTATIONS.rotate], now),
    previousKeyId: obj.status?.currentKeyId,
  };
}

/** What `keys rotate` tells the user will happen, so nobody is surprised by two valid keys. */
export function rotateExplanation(obj: ApiKeyObject, value: string): string {
  const secret = workloadSecret(obj);
  const cur = currentEntry(obj);
  const handoff = obj.spec?.rotation?.handoff;
  const manual = handoff?.mode === 'Manual';
  const lines = [
    `Rotation requested for ApiKey ${obj.metadata.namespace}/${obj.metadata.name} (${ANNOTATIONS.rotate}=${value}).`,
    'Next, the operator:',
    '  1. generates a successor key with a new key id and the same scopes;',
    `  2. switches Secret ${secret.name} (data key ${secret.key}) to the successor` +
      ((obj.spec?.rotation?.restartTargets?.length ?? 0) > 0 ? ' and restarts the rotation.restartTargets;' : ';'),
    manual
      ? `  3. keeps ${cur ? `the current key ${cur.id} …${cur.hint}` : 'the predecessor'} valid (Superseded) until YOU revoke it ` +
        `(manual hand-off): once "keys describe" shows the successor used, run "keys handoff ${obj.metadata.name}".`
      : cur
        ? `  3. keeps the current key ${cur.id} …${cur.hint} valid (Superseded) until the successor is used and ${cur.id} ` +
          `has been idle for ${handoff?.idle ?? '1h'} (at most ${handoff?.maxOverlap ?? '7d'}), then revokes it` +
          ' (unless the Team defaults to a manual hand-off).'
        : '  3. keeps the predecessor valid (Superseded) until the hand-off is confirmed, then revokes it.',
    `Watch it with: keys describe ${obj.metadata.name} -n ${obj.metadata.namespace}`,
  ];
  return `${lines.join('\n')}\n`;
}

export type RevokeKeyIdPlan =
  | { kind: 'unknown'; known: string[] }
  | { kind: 'already' }
  | { kind: 'patch'; revokedKeyIds: string[]; isCurrent: boolean };

/** Adds `id` to spec.revokedKeyIds (a set, order kept); refuses ids this ApiKey never had. */
export function planRevokeKeyId(obj: ApiKeyObject, id: string): RevokeKeyIdPlan {
  const known = knownKeyIds(obj);
  const existing = obj.spec?.revokedKeyIds ?? [];
  if (existing.includes(id)) return { kind: 'already' };
  if (!known.includes(id)) return { kind: 'unknown', known };
  return { kind: 'patch', revokedKeyIds: [...existing, id], isCurrent: obj.status?.currentKeyId === id };
}

export type HandoffPlan =
  | { kind: 'refuse'; reason: string }
  | {
      kind: 'patch';
      revokedKeyIds: string[];
      predecessors: string[];
      successor: string;
      successorLastUsed: string | undefined;
    };

/**
 * `keys handoff`: the page's last step — revoke the old keys once the new one is confirmed in use. The
 * predecessors are the Superseded key ids; "in use" is the successor's last-used time the gateway
 * reported. Without that evidence it refuses, unless forced.
 */
export function planHandoff(obj: ApiKeyObject, force: boolean): HandoffPlan {
  const name = `${obj.metadata.namespace}/${obj.metadata.name}`;
  const predecessors = supersededIds(obj);
  const successor = currentEntry(obj);
  if (predecessors.length === 0) {
    return {
      kind: 'refuse',
      reason:
        `ApiKey ${name} has no predecessor key id waiting for hand-off (nothing is Superseded). ` +
        `Rotate first: keys rotate ${obj.metadata.name} -n ${obj.metadata.namespace}`,
    };
  }
  if (!successor || successor.state !== 'Active') {
    return {
      kind: 'refuse',
      reason: `ApiKey ${name} has no active successor key yet; wait until "keys describe ${obj.metadata.name} -n ${obj.metadata.namespace}" shows one.`,
    };
  }
  if (successor.lastUsedAt === undefined && !force) {
    return {
      kind: 'refuse',
      reason:
        `The successor key ${successor.id} …${successor.hint} of ApiKey ${name} has never been used, so ` +
        `revoking ${predecessors.join(', ')} could cut off workloads still using ${predecessors.length > 1 ? 'them' : 'it'}. ` +
        `Roll the new key out, confirm its LAST USED in "keys describe ${obj.metadata.name} -n ${obj.metadata.namespace}", ` +
        'then run this again (or pass --force to revoke anyway).',
    };
  }
  const existing = obj.spec?.revokedKeyIds ?? [];
  return {
    kind: 'patch',
    revokedKeyIds: [...existing, ...predecessors.filter((id) => !existing.includes(id))],
    predecessors,
    successor: successor.id,
    successorLastUsed: successor.lastUsedAt,
  };
}

export function unknownKeyIdMessage(obj: ApiKeyObject, id: string, known: string[]): string {
  const list =
    known.length > 0
      ? `Known key ids: ${obj.status?.keys?.map((k) => `${k.id} (${k.state})`).join(', ')}.`
      : 'It has no key ids yet (status.keys is empty: has the operator reconciled it?).';
  return `ApiKey ${obj.metadata.namespace}/${obj.metadata.name} has no key id "${id}". ${list}`;
}

export interface DuplicateOptions {
  newName: string;
  secretName?: string;
}

/**
 * The product page's Duplicate: same scopes and settings, a new identity. Labels and annotations
 * are not copied (a GitOps tool's tracking label would make it prune or fight over the copy), nor
 * revocations (a copy is a working key) or status.
 */
export function planDuplicate(original: ApiKeyObject, opts: DuplicateOptions): ApiKeyObject {
  const spec = structuredClone(original.spec ?? {});
  delete spec.revokedKeyIds;
  spec.revoked = false;
  if (opts.secretName !== undefined) {
    spec.secret = { ...spec.secret, name: opts.secretName } as typeof spec.secret;
  } else if (spec.secret?.name !== undefined) {
    // Two ApiKeys writing one Secret would overwrite each other's key.
    spec.secret = { ...spec.secret, name: opts.newName };
  }
  return {
    apiVersion: API_VERSION,
    kind: KINDS.apiKey.kind,
    metadata: {
      name: opts.newName,
      ...(original.metadata.namespace ? { namespace: original.metadata.namespace } : {}),
    },
    spec,
  };
}

/** Another ApiKey in the namespace that already writes the Secret the copy would use. */
export function secretOwnerConflict(copy: ApiKeyObject, others: readonly ApiKeyObject[]): ApiKeyObject | undefined {
  const target = workloadSecret(copy).name;
  return others.find((o) => o.metadata.name !== copy.metadata.name && workloadSecret(o).name === target);
}
