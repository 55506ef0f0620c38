// The per-object audit trail (docs/design.md §8): a bounded ring of entries, newest last, one entry
// per change. Pure: merging is idempotent by entry id, so a batch the API server re-sends after an
// operator restart, or an operator action planned twice, adds nothing.
import { z } from 'zod';

export const TRAIL_ACTIONS = [
  'create',
  'edit',
  'rotate',
  'revoke',
  'revoke-key-id',
  'expire',
  'handoff',
  'delete',
] as const;
export type TrailAction = (typeof TRAIL_ACTIONS)[number];

export const trailEntry = z.object({
  /** The API server's audit ID, or `operator:<action>:<key id>` for the operator's own actions. */
  id: z.string().min(1).max(200),
  /** When the API server received the request (or the operator acted), RFC 3339. */
  time: z.string(),
  action: z.enum(TRAIL_ACTIONS),
  /** The key id the change concerns; for a rotate, the successor it created (once known). */
  keyId: z.string().max(64).optional(),
  /** For a rotate: the key id it superseded. */
  predecessorKeyId: z.string().max(64).optional(),
  actor: z.string().max(1024),
  groups: z.array(z.string()).optional(),
  impersonatedBy: z.string().optional(),
  /** Absent: unknown (no audit event carried it). */
  sourceIp: z.string().optional(),
  /** Paths of the fields a create/edit set or changed — never values. */
  fields: z.array(z.string()).optional(),
  reason: z.string().max(512).optional(),
  /** Snapshot hash after the change (observed entries), so a late audit event can take their place. */
  resultHash: z.string().max(32).optional(),
});
export type TrailEntry = z.infer<typeof trailEntry>;

/** ~300 bytes an entry: 200 entries stay far below a ConfigMap's 1 MiB. */
export const DEFAULT_MAX_ENTRIES = 200;

/** Microseconds since the epoch: the API server writes µs, the operator ms; Date.parse would drop the µs. */
function microsOf(time: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  const seconds = Date.parse(m ? `${m[1]}${m[3]}` : time);
  if (Number.isNaN(seconds)) return 0;
  return seconds * 1000 + Number((m?.[2] ?? '').padEnd(6, '0').slice(0, 6));
}

/** The operator issued key `keyId` for a user's create or rotate (`predecessor` for a rotate). */
export interface IssuedKey {
  action: 'create' | 'rotate';
  keyId: string;
  predecessor?: string;
}

/**
 * Pure: the trail entry of the user's change that `issued` completes, with the issued key id filled in,
 * or undefined when there is none to fill. A person's create / rotate is recorded from its audit event,
 * often before the operator has issued the key: a create then has no key id yet, a rotate names the
 * predecessor. Exactly once: an entry that already names the issued key id (or a filled one) is left alone.
 */
export function fillIssuedKeyId(entries: readonly TrailEntry[], issued: IssuedKey): TrailEntry | undefined {
  if (entries.some((e) => e.action === issued.action && e.keyId === issued.keyId)) return undefined;
  const open = entries.findLast(
    (e) =>
      e.action === issued.action &&
      (issued.action === 'create'
        ? e.keyId === undefined
        : e.predecessorKeyId === undefined && issued.predecessor !== undefined && e.keyId === issued.predecessor),
  );
  if (!open) return undefined;
  return { ...open, keyId: issued.keyId, ...(issued.predecessor ? { predecessorKeyId: issued.predecessor } : {}) };
}

/** The key a person's create / rotate got from the operator, from the operator's own audit record. */
export function issuedKeyFrom(r: { action: string; keyId: string; relatedKeyId?: string }): IssuedKey | undefined {
  if (r.action === 'create') return { action: 'create', keyId: r.keyId };
  if (r.action === 'rotate' && r.relatedKeyId) return { action: 'rotate', keyId: r.keyId, predecessor: r.relatedKeyId };
  return undefined;
}

/**
 * Pure: `add` (entries about to be written over `entries`) with each issued key filled into the entry it
 * completes (fillIssuedKeyId), and the ids of stored entries a filled copy replaces.
 */
export function withIssuedKeys(
  entries: readonly TrailEntry[],
  add: readonly TrailEntry[],
  issued: readonly IssuedKey[],
): { add: TrailEntry[]; remove: string[] } {
  let pending = [...add];
  const remove: string[] = [];
  for (const key of issued) {
    const filled = fillIssuedKeyId([...entries.filter((e) => !remove.includes(e.id)), ...pending], key);
    if (!filled) continue;
    if (!pending.some((e) => e.id === filled.id)) remove.push(filled.id);
    pending = [...pending.filter((e) => e.id !== filled.id), filled];
  }
  return { add: pending, remove };
}

/**
 * Pure: the key the operator issued for a create / rotate received at `changeTime`: the first key created
 * in that second or later (the operator issues after the change; createdAt has whole seconds), other than
 * `predecessor`. Undefined while the operator has not issued it (recordIssuedKey fills it in then).
 */
export function keyIssuedFor(
  keys: readonly { id: string; createdAt: string }[] | undefined,
  changeTime: string,
  predecessor?: string,
): string | undefined {
  const second = Math.floor(microsOf(changeTime) / 1_000_000) * 1000;
  return [...(keys ?? [])]
    .filter((k) => k.id !== predecessor && Date.parse(k.createdAt) >= second)
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))[0]?.id;
}

/** Oldest first by time (then id, so the order is total); dedupe by id; keep the newest `max`. */
export function mergeEntries(existing: TrailEntry[], added: TrailEntry[], max = DEFAULT_MAX_ENTRIES): TrailEntry[] {
  const byId = new Map<string, TrailEntry>();
  for (const e of [...existing, ...added]) if (!byId.has(e.id)) byId.set(e.id, e);
  const all = [...byId.values()].sort(
    (a, b) => microsOf(a.time) - microsOf(b.time) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return all.slice(Math.max(0, all.length - max));
}

/** Entries from stored JSON; a corrupt value yields [] plus the reason (the caller logs it). */
export function parseEntries(json: string | undefined): { entries: TrailEntry[]; error?: string } {
  if (!json) return { entries: [] };
  try {
    const parsed = z.array(trailEntry).safeParse(JSON.parse(json));
    return parsed.success ? { entries: parsed.data } : { entries: [], error: parsed.error.message };
  } catch (err) {
    return { entries: [], error: (err as Error).message };
  }
}
