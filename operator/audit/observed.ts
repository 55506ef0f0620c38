// Changes no audit event told us about (docs/design.md §8): kube-apiserver drops a webhook batch it
// cannot deliver (a refused connection is not retried), and clusters without the audit webhook send
// none. The leader compares each ApiKey with its trail's snapshot; a difference still there after a
// grace period (longer than kube-apiserver's batching + retries) becomes one "observed" entry: actor =
// the field manager of the last write, source IP unknown. Idempotent by resourceVersion.
//
// Without an audit receiver this controller is the only writer of people's entries, so it also names
// the key the operator issued for a create / rotate (noteIssued) in the same write, and creates the
// trail of a new ApiKey (created while it watched, or not issued a key yet) without reading it first:
// a new key's trail costs one request instead of three (read, create, read again to fill the key id in).
import { FIELD_MANAGER } from '../../api/constants.ts';
import { lastManagerOf } from '../apikey/conditions.ts';
import type { OperatorContext } from '../runtime/context.ts';
import type { SharedInformers } from '../controllers.ts';
import { objectKey, splitKey, type ReconcileResult, type Reconciler } from '../runtime/types.ts';
import { classify, snapshotHash, snapshotOf } from './changes.ts';
import type { TrailStore, TrailUpdate } from './trail-store.ts';
import { withIssuedKeys, type IssuedKey, type TrailEntry } from './trail.ts';
import type { ObjectMeta } from './types.ts';

export interface ObservedOptions {
  store: TrailStore;
  /** How long an audit event may take to arrive before the change counts as unaudited. */
  graceMs: number;
  /**
   * No audit receiver runs: nobody else writes people's entries, so a trail is created without a read
   * for an ApiKey created while the informer watched, and issued keys are filled in by noteIssued.
   */
  soleRecorder?: boolean;
  onEntry?: (ref: { namespace: string; name: string }, e: TrailEntry) => void;
}

export interface ObservedChanges {
  /** The operator issued a key for a person's create / rotate of `apiKey` (`ns/name`): name it in the trail. */
  noteIssued(apiKey: string, issued: IssuedKey): void;
}

/** The time of the newest non-status write: when the change happened, to the second. */
function lastWriteTime(obj: ObjectMeta): string | undefined {
  const times = (obj.metadata?.managedFields ?? [])
    .filter((f) => f.subresource !== 'status' && f.time)
    .map((f) => new Date(f.time!).toISOString())
    .sort();
  return times.at(-1);
}

/** Pure: the trail update for `obj` as it is now, with the issued keys waiting to be named. */
export function observedUpdate(
  obj: ObjectMeta & { status?: { currentKeyId?: string } },
  now: Date,
  issued: readonly IssuedKey[],
): TrailUpdate {
  const after = snapshotOf(obj);
  const hash = snapshotHash(after);
  const actor =
    lastManagerOf(obj.metadata?.managedFields, ['f:spec'], [FIELD_MANAGER]) ??
    lastManagerOf(obj.metadata?.managedFields, ['f:metadata'], [FIELD_MANAGER]) ??
    'unknown';
  return (state) => {
    const unchanged = (state.baseline?.hash ?? snapshotHash(undefined)) === hash;
    const observed: TrailEntry[] = [];
    if (!unchanged) {
      const before = state.baseline?.snapshot;
      const what = classify(state.baseline ? 'patch' : 'create', before, after);
      // Without the earlier snapshot (only its hash is known) the changed fields are unknown.
      const fields = state.baseline && !before ? [] : what.fields;
      const keyId = what.revokedKeyId ?? obj.status?.currentKeyId;
      observed.push({
        id: `observed:${obj.metadata?.uid}:${obj.metadata?.resourceVersion ?? ''}`,
        time: lastWriteTime(obj) ?? now.toISOString(),
        action: state.baseline && !before ? 'edit' : what.action,
        actor: `${actor} (field manager; no audit event)`,
        ...(keyId ? { keyId } : {}),
        ...(fields.length ? { fields } : {}),
        resultHash: hash,
      });
    }
    const { add, remove } = withIssuedKeys(state.entries, observed, issued);
    return { add, remove, ...(unchanged ? {} : { baseline: { hash, ...(after ? { snapshot: after } : {}) } }) };
  };
}

/** Reads the key controllers' ApiKey cache (operator/controllers.ts): no watch of its own. */
export async function registerObservedChanges(
  ctx: OperatorContext,
  { apiKeys }: Pick<SharedInformers, 'apiKeys'>,
  opts: ObservedOptions,
): Promise<ObservedChanges> {
  /** Per ApiKey: the hash of the snapshot last enqueued, and of the one its trail is known to hold. */
  const seen = new Map<string, string>();
  const recorded = new Map<string, string>();
  /**
   * ApiKeys whose trail most likely does not exist, not reconciled yet: created while the informer
   * watched, or never issued a key (a backlog the operator starts on). A wrong guess costs one 409.
   */
  const withoutTrail = new Set<string>();
  const issuedFor = new Map<string, IssuedKey[]>();
  const reconciler: Reconciler = {
    name: 'audit-observed',
    async reconcile(key): Promise<ReconcileResult> {
      const { namespace, name } = splitKey(key);
      const obj = apiKeys.get(namespace, name);
      if (!obj || !namespace) return {};
      const hash = snapshotHash(snapshotOf(obj));
      const issued = issuedFor.get(key) ?? [];
      // As the only writer of people's entries: nothing new since this process last wrote the trail, no read.
      if (opts.soleRecorder && recorded.get(key) === hash && issued.length === 0) return {};
      issuedFor.delete(key);
      const likelyAbsent = withoutTrail.delete(key);
      try {
        const { added } = await opts.store.update(
          { kind: 'ApiKey', namespace, name, ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}) },
          observedUpdate(obj, ctx.clock.now(), issued),
          { likelyAbsent },
        );
        if (opts.soleRecorder) recorded.set(key, hash);
        for (const e of added) opts.onEntry?.({ namespace, name }, e);
      } catch (err) {
        // Retried with backoff: keep what is still to be named.
        issuedFor.set(key, [...issued, ...(issuedFor.get(key) ?? [])]);
        throw err;
      }
      return {};
    },
  };
  const queue = ctx.runController(reconciler, { workers: 1 });
  apiKeys.onChange((obj, change) => {
    const key = objectKey(obj);
    if (change === 'delete') {
      for (const m of [seen, recorded, issuedFor]) m.delete(key);
      withoutTrail.delete(key);
      return;
    }
    if (opts.soleRecorder && change === 'add' && (apiKeys.synced || !obj.status?.keys?.length)) withoutTrail.add(key);
    // Status writes (usage, lastUsedAt) do not change the snapshot: no trail read for them.
    const hash = snapshotHash(snapshotOf(obj));
    if (seen.get(key) === hash) return;
    seen.set(key, hash);
    queue.enqueueAfter(key, opts.graceMs);
  });
  return {
    noteIssued(apiKey, issued) {
      issuedFor.set(apiKey, [...(issuedFor.get(apiKey) ?? []), issued]);
      queue.enqueue(apiKey);
    },
  };
}
