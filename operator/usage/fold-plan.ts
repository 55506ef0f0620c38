import {
  addKeys,
  findArchive,
  isAbsorbed,
  USAGE_ARCHIVE_GATEWAY,
  USAGE_ARCHIVE_NAME,
} from '../../api/usage-archive.ts';
import type { KeyUsage, UsageReport } from '../../api/usage.ts';

// What one fold pass does (docs/design.md §4, "Reports of gone replicas"); pure, no I/O. A report not
// updated for `foldAfterMs` by its own `updatedAt` belongs to a replica that is gone (live gateways
// rewrite theirs at least every heartbeat, gateway/usage/reporter.ts). The pass folds every such
// report into the ONE archive and records the folded versions in `absorbed`; the caller writes the
// archive first (one write per pass) and deletes the folded reports after, each only at the folded
// resourceVersion. Readers skip absorbed versions (api/usage-archive.ts), so every intermediate state
// (archive written, some deletes done, crash anywhere) counts each report exactly once, and the next
// pass finishes what a crashed one left (deletes of absorbed versions, absorbed names of reports gone).

export interface ListedReport {
  name: string;
  resourceVersion: string | undefined;
  /** undefined when the ConfigMap does not decode (never folded: nothing to add, and nothing deleted). */
  report: UsageReport | undefined;
}

export interface FoldPlan {
  /** The archive to write (before any delete); undefined when it stays as it is. */
  archive?: UsageReport;
  /** Reports to delete at exactly this resourceVersion (all absorbed by the archive as written). */
  deletes: Array<{ name: string; resourceVersion: string }>;
  /** Names folded in this pass (for logs and metrics). */
  folded: string[];
  /** Set when the pass must not run: the archive exists but does not decode. */
  blocked?: string;
}

/**
 * `hasRecord`: whether a key id still has its record. The archive drops key ids without one (deleted
 * ApiKeys), as the gateways' reports do, once they were last used longer than the fold age ago (so a
 * record the operator's cache has not seen yet can never cost counts). Omitted: keep every key id.
 */
export function planFold(
  reports: readonly ListedReport[],
  now: Date,
  foldAfterMs: number,
  hasRecord: (keyId: string) => boolean = () => true,
): FoldPlan {
  const stored = findArchive(reports);
  if (stored && !stored.report) {
    return {
      deletes: [],
      folded: [],
      blocked: `the usage archive ${USAGE_ARCHIVE_NAME} does not decode; not folding into it`,
    };
  }
  const current = stored?.report;
  const keys: Record<string, KeyUsage> = structuredClone(current?.keys ?? {});
  const absorbed: Record<string, string> = { ...current?.absorbed };
  const deletes: FoldPlan['deletes'] = [];
  const folded: string[] = [];
  const listed = new Set<string>();
  for (const r of reports) {
    if (r.name === USAGE_ARCHIVE_NAME) continue;
    listed.add(r.name);
    if (r.resourceVersion === undefined) continue;
    if (isAbsorbed(current, r)) {
      deletes.push({ name: r.name, resourceVersion: r.resourceVersion }); // folded by an earlier pass
      continue;
    }
    if (!r.report || now.getTime() - Date.parse(r.report.updatedAt) < foldAfterMs) continue;
    addKeys(keys, r.report.keys);
    absorbed[r.name] = r.resourceVersion;
    deletes.push({ name: r.name, resourceVersion: r.resourceVersion });
    folded.push(r.name);
  }
  // key ids of deleted ApiKeys leave, as they leave the gateways' reports
  let dropped = 0;
  for (const [keyId, u] of Object.entries(keys)) {
    if (!hasRecord(keyId) && now.getTime() - Date.parse(u.lastUsedAt) >= foldAfterMs) {
      delete keys[keyId];
      dropped++;
    }
  }
  // A name whose report is gone was deleted after being absorbed (only absorbed reports are deleted):
  // nothing can match it any more. A report that came back under that name is a fresh one (gateways
  // start from zero when their own report is absorbed) and is absorbed anew when it goes stale.
  for (const name of Object.keys(absorbed)) {
    if (!listed.has(name)) {
      delete absorbed[name];
      dropped++;
    }
  }
  if (folded.length === 0 && dropped === 0) return { deletes, folded };
  return { archive: { gateway: USAGE_ARCHIVE_GATEWAY, updatedAt: now.toISOString(), keys, absorbed }, deletes, folded };
}
