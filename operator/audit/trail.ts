// The per-object audit trail (docs/design.md §8): a bounded ring of entries, newest last, one entry
// per change. Pure: merging is idempotent by entry id, so a batch the API server re-sends after an
// operator restart, or an operator action planned twice, adds nothing.
import { z } from 'zod';

export const TRAIL_ACTIONS = ['create', 'edit', 'rotate', 'revoke', 'revoke-key-id', 'expire', 'handoff', 'delete'] as const;
export type TrailAction = (typeof TRAIL_ACTIONS)[number];

export const trailEntry = z.object({
  /** The API server's audit ID, or `operator:<action>:<key id>` for the operator's own actions. */
  id: z.string().min(1).max(200),
  /** When the API server received the request (or the operator acted), RFC 3339. */
  time: z.string(),
  action: z.enum(TRAIL_ACTIONS),
  keyId: z.string().max(64).optional(),
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

/** Oldest first by time (then id, so the order is total); dedupe by id; keep the newest `max`. */
export function mergeEntries(existing: TrailEntry[], added: TrailEntry[], max = DEFAULT_MAX_ENTRIES): TrailEntry[] {
  const byId = new Map<string, TrailEntry>();
  for (const e of [...existing, ...added]) if (!byId.has(e.id)) byId.set(e.id, e);
  const all = [...byId.values()].sort((a, b) => microsOf(a.time) - microsOf(b.time) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
