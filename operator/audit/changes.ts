// Pure: what a change did, from the object before and after it (docs/design.md §8). The snapshot is
// the part of an object the trail compares: its spec and the user-facing annotations. Values are
// compared, never recorded — entries carry field paths only.
import { ANNOTATIONS } from '../../api/constants.ts';
import { shortHash } from '../apikey/events.ts';
import type { AuditedVerb } from './event.ts';
import type { TrailAction } from './trail.ts';

export interface Snapshot {
  spec: Record<string, unknown>;
  /** The rotate annotation: a new value requests a rotation. */
  rotate?: string;
  deleting?: boolean;
}

interface ObjectLike {
  metadata?: { annotations?: Record<string, string>; deletionTimestamp?: unknown };
  spec?: unknown;
}

export function snapshotOf(obj: ObjectLike | undefined): Snapshot | undefined {
  if (!obj) return undefined;
  const rotate = obj.metadata?.annotations?.[ANNOTATIONS.rotate];
  return {
    spec: (obj.spec && typeof obj.spec === 'object' ? obj.spec : {}) as Record<string, unknown>,
    ...(rotate !== undefined ? { rotate } : {}),
    ...(obj.metadata?.deletionTimestamp ? { deleting: true } : {}),
  };
}

/** Stable (sorted keys) hash of a snapshot: what the admission webhook and the trail compare. */
export function snapshotHash(s: Snapshot | undefined): string {
  return shortHash(stableJson(s ?? null));
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Leaf paths (`spec.rateLimit.requestsPerMinute`; arrays are one leaf) whose values differ. */
export function changedPaths(before: unknown, after: unknown, path: string): string[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedPaths(before[k], after[k], `${path}.${k}`));
  }
  if (isPlainObject(after) && before === undefined) return changedPaths({}, after, path);
  if (isPlainObject(before) && after === undefined) return changedPaths(before, {}, path);
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [path];
}

export interface Classified {
  action: TrailAction;
  fields: string[];
  /** For `revoke-key-id`: the key id that was revoked. */
  revokedKeyId?: string;
}

/** What one audited request did to the object, given its snapshots before and after. */
export function classify(verb: AuditedVerb, before: Snapshot | undefined, after: Snapshot | undefined): Classified {
  if (verb === 'delete' || (after?.deleting && !before?.deleting)) return { action: 'delete', fields: [] };
  const fields = changedPaths(before?.spec ?? {}, after?.spec ?? {}, 'spec');
  if (before?.rotate !== after?.rotate && after?.rotate !== undefined) {
    fields.push(`metadata.annotations[${ANNOTATIONS.rotate}]`);
  }
  if (verb === 'create' || !before) return { action: 'create', fields };
  if (after?.spec.revoked === true && before.spec.revoked !== true) return { action: 'revoke', fields };
  const was = new Set(asStrings(before.spec.revokedKeyIds));
  const added = asStrings(after?.spec.revokedKeyIds).filter((id) => !was.has(id));
  if (added.length > 0) return { action: 'revoke-key-id', fields, revokedKeyId: added[0] };
  if (fields.includes(`metadata.annotations[${ANNOTATIONS.rotate}]`)) return { action: 'rotate', fields };
  return { action: 'edit', fields };
}

const asStrings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
