// Changes no audit event told us about (docs/design.md §8): kube-apiserver drops a webhook batch it
// cannot deliver (a refused connection is not retried), and clusters without the audit webhook send
// none. The leader compares each ApiKey with its trail's snapshot; a difference still there after a
// grace period (longer than kube-apiserver's batching + retries) becomes one "observed" entry: actor =
// the field manager of the last write, source IP unknown. Idempotent by resourceVersion.
import { FIELD_MANAGER } from '../../api/constants.ts';
import { lastManagerOf } from '../apikey/conditions.ts';
import type { OperatorContext } from '../runtime/context.ts';
import type { SharedInformers } from '../controllers.ts';
import { objectKey, splitKey, type ReconcileResult, type Reconciler } from '../runtime/types.ts';
import { classify, snapshotHash, snapshotOf } from './changes.ts';
import type { TrailStore } from './trail-store.ts';
import type { TrailEntry } from './trail.ts';
import type { ObjectMeta } from './types.ts';

export interface ObservedOptions {
  store: TrailStore;
  /** How long an audit event may take to arrive before the change counts as unaudited. */
  graceMs: number;
  onEntry?: (ref: { namespace: string; name: string }, e: TrailEntry) => void;
}

/** The time of the newest non-status write: when the change happened, to the second. */
function lastWriteTime(obj: ObjectMeta): string | undefined {
  const times = (obj.metadata?.managedFields ?? [])
    .filter((f) => f.subresource !== 'status' && f.time)
    .map((f) => new Date(f.time!).toISOString())
    .sort();
  return times.at(-1);
}

/** Reads the key controllers' ApiKey cache (operator/controllers.ts): no watch of its own. */
export async function registerObservedChanges(
  ctx: OperatorContext,
  { apiKeys }: Pick<SharedInformers, 'apiKeys'>,
  opts: ObservedOptions,
): Promise<void> {
  const seen = new Map<string, string>();
  const reconciler: Reconciler = {
    name: 'audit-observed',
    async reconcile(key): Promise<ReconcileResult> {
      const { namespace, name } = splitKey(key);
      const obj = apiKeys.get(namespace, name);
      if (!obj || !namespace) return {};
      const after = snapshotOf(obj);
      const rv = obj.metadata?.resourceVersion ?? '';
      const actor =
        lastManagerOf(obj.metadata?.managedFields, ['f:spec'], [FIELD_MANAGER]) ??
        lastManagerOf(obj.metadata?.managedFields, ['f:metadata'], [FIELD_MANAGER]) ??
        'unknown';
      const { added } = await opts.store.update(
        { kind: 'ApiKey', namespace, name, ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}) },
        (state) => {
          const hash = snapshotHash(after);
          if ((state.baseline?.hash ?? snapshotHash(undefined)) === hash) return { add: [] };
          const before = state.baseline?.snapshot;
          const what = classify(state.baseline ? 'patch' : 'create', before, after);
          // Without the earlier snapshot (only its hash is known) the changed fields are unknown.
          const fields = state.baseline && !before ? [] : what.fields;
          const keyId = what.revokedKeyId ?? obj.status?.currentKeyId;
          return {
            add: [
              {
                id: `observed:${obj.metadata?.uid}:${rv}`,
                time: lastWriteTime(obj) ?? ctx.clock.now().toISOString(),
                action: state.baseline && !before ? 'edit' : what.action,
                actor: `${actor} (field manager; no audit event)`,
                ...(keyId ? { keyId } : {}),
                ...(fields.length ? { fields } : {}),
                resultHash: hash,
              },
            ],
            baseline: { hash, ...(after ? { snapshot: after } : {}) },
          };
        },
      );
      for (const e of added) opts.onEntry?.({ namespace, name }, e);
      return {};
    },
  };
  const queue = ctx.runController(reconciler, { workers: 1 });
  apiKeys.onChange((obj, change) => {
    const key = objectKey(obj);
    if (change === 'delete') {
      seen.delete(key);
      return;
    }
    // Status writes (usage, lastUsedAt) do not change the snapshot: no trail read for them.
    const snap = JSON.stringify(snapshotOf(obj));
    if (seen.get(key) === snap) return;
    seen.set(key, snap);
    queue.enqueueAfter(key, opts.graceMs);
  });
}
