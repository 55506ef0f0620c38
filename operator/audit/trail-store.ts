// Where the trail lives (docs/design.md §8): one ConfigMap per ApiKey / Team, in its namespace,
// owner-referenced (it goes when the object goes), holding the bounded ring of entries and the
// snapshot the next change is compared with. Merge-patched with the resourceVersion as precondition: two
// replicas (or a restarted operator) merging the same batch cannot lose or double an entry.
import { hash } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { API_VERSION, FIELD_MANAGER, GROUP, LABELS, MANAGED_BY } from '../../api/constants.ts';
import { createObject, PATCH, patchObject, readObject } from '../../kube/apply.ts';
import type { KubeClient } from '../../kube/client.ts';
import { isConflict } from '../../kube/errors.ts';
import { CONFIG_MAPS } from '../../kube/resources.ts';
import type { Snapshot } from './changes.ts';
import type { AuditedKind } from './event.ts';
import { DEFAULT_MAX_ENTRIES, mergeEntries, parseEntries, type TrailEntry } from './trail.ts';

export const TRAIL_LABEL = `${GROUP}/audit-trail`;
export const ENTRIES_KEY = 'entries.json';
export const SNAPSHOT_KEY = 'snapshot.json';

export interface TrailRef {
  kind: AuditedKind;
  namespace: string;
  name: string;
  uid?: string;
}

/** `nemokeys-audit.apikey.NAME`; names too long for that end in a hash instead. */
export function trailName(kind: AuditedKind, name: string): string {
  const full = `nemokeys-audit.${kind.toLowerCase()}.${name}`;
  return full.length <= 253 ? full : `${full.slice(0, 240)}.${hash('sha256', name, 'hex').slice(0, 12)}`;
}

/** What the last recorded change left the object as: its snapshot hash, and the snapshot when known. */
export interface Baseline {
  hash: string;
  snapshot?: Snapshot;
}

export interface TrailState {
  entries: TrailEntry[];
  baseline?: Baseline;
}

/** Computes what to add from the stored state (called again after a 409). */
export type TrailUpdate = (state: TrailState) => { add: TrailEntry[]; remove?: string[]; baseline?: Baseline };

export interface UpdateOptions {
  /**
   * The trail most likely does not exist yet (its object was created while the caller watched): try to
   * create it from an empty state without reading it first; if it exists after all (409), read and merge.
   */
  likelyAbsent?: boolean;
}

export interface TrailStore {
  read(ref: Omit<TrailRef, 'uid'>): Promise<TrailState>;
  update(ref: TrailRef, update: TrailUpdate, opts?: UpdateOptions): Promise<{ added: TrailEntry[] }>;
}

export function createTrailStore(
  kube: KubeClient,
  opts: { maxEntries?: number; warn?: (msg: string) => void } = {},
): TrailStore {
  const max = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const get = (ref: Omit<TrailRef, 'uid'>): Promise<V1ConfigMap | undefined> =>
    readObject(kube, CONFIG_MAPS, ref.namespace, trailName(ref.kind, ref.name));
  const stateOf = (cm: V1ConfigMap | undefined, ref: Omit<TrailRef, 'uid'>): TrailState => {
    const { entries, error } = parseEntries(cm?.data?.[ENTRIES_KEY]);
    if (error)
      opts.warn?.(`audit trail ${ref.namespace}/${trailName(ref.kind, ref.name)} unreadable, starting over: ${error}`);
    let baseline: Baseline | undefined;
    try {
      const raw = cm?.data?.[SNAPSHOT_KEY] ? (JSON.parse(cm.data[SNAPSHOT_KEY]) as Baseline) : undefined;
      baseline = raw && typeof raw.hash === 'string' ? raw : undefined;
    } catch {
      baseline = undefined;
    }
    return { entries, ...(baseline ? { baseline } : {}) };
  };

  return {
    read: async (ref) => stateOf(await get(ref), ref),
    async update(ref, update, updateOpts = {}) {
      for (let attempt = 0; ; attempt++) {
        // Assumed absent: only the first attempt, and only to create (anything else reads it first).
        const assumed = attempt === 0 && updateOpts.likelyAbsent === true;
        const cm = assumed ? undefined : await get(ref);
        const state = stateOf(cm, ref);
        const { add, remove = [], baseline } = update(state);
        const kept = state.entries.filter((e) => !remove.includes(e.id));
        // Known = what stays: removing an entry and adding one with its id replaces it.
        const known = new Set(kept.map((e) => e.id));
        const added = add.filter((e) => !known.has(e.id));
        const snapshotJson = baseline ? JSON.stringify(baseline) : cm?.data?.[SNAPSHOT_KEY];
        if (added.length === 0 && kept.length === state.entries.length && snapshotJson === cm?.data?.[SNAPSHOT_KEY]) {
          if (assumed) continue;
          return { added: [] };
        }
        const data: Record<string, string> = { [ENTRIES_KEY]: JSON.stringify(mergeEntries(kept, added, max)) };
        if (snapshotJson) data[SNAPSHOT_KEY] = snapshotJson;
        try {
          if (cm) {
            // A merge patch carrying the resourceVersion read: 409 if anyone wrote in between.
            await patchObject(
              kube,
              CONFIG_MAPS,
              { namespace: ref.namespace, name: cm.metadata!.name! },
              { metadata: { resourceVersion: cm.metadata!.resourceVersion }, data },
              { contentType: PATCH.merge, fieldManager: FIELD_MANAGER },
            );
          } else {
            await createObject(kube, CONFIG_MAPS, newTrail(ref, data), { fieldManager: FIELD_MANAGER });
          }
          return { added };
        } catch (err) {
          // 409: someone else wrote first (or created it): merge again on top of theirs.
          if (!isConflict(err) || attempt >= 9) throw err;
        }
      }
    },
  };
}

function newTrail(ref: TrailRef, data: Record<string, string>): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: trailName(ref.kind, ref.name),
      namespace: ref.namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY, [TRAIL_LABEL]: ref.kind.toLowerCase() },
      ...(ref.uid
        ? { ownerReferences: [{ apiVersion: API_VERSION, kind: ref.kind, name: ref.name, uid: ref.uid }] }
        : {}),
    },
    data,
  };
}
