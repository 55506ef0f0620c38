import type { KeyUsage, UsageReport } from './usage.ts';

// The usage archive (docs/design.md §4, "Reports of gone replicas"): ONE report in the records
// namespace, written by the operator only, into which it folds the reports of gateway replicas that are
// gone. It uses the same codec and label as a replica's report, so every reader (the operator summing
// status, every gateway seeding and enforcing budgets) counts it like any other report. Its `absorbed`
// map names the report versions (ConfigMap name → resourceVersion) it already holds: a reader skips a
// report whose exact version the archive absorbed, so between the archive write and the delete of the
// folded report (or after a crash in between) nothing is counted twice or lost.

/** The archive's ConfigMap name; gateways' reports are all named `nemokeys-usage-*`, so it never collides. */
export const USAGE_ARCHIVE_NAME = 'nemokeys-archived-usage';
/** The archive's `gateway` field (it is nobody's). */
export const USAGE_ARCHIVE_GATEWAY = 'nemokeys-operator-archive';

export interface StoredReport {
  /** ConfigMap name */
  name: string;
  resourceVersion: string | undefined;
  report: UsageReport;
}

/** The archive among the listed reports, if any. */
export function findArchive<T extends { name: string }>(reports: readonly T[]): T | undefined {
  return reports.find((r) => r.name === USAGE_ARCHIVE_NAME);
}

/** True when the archive already holds exactly this version of a report: count it there, not here. */
export function isAbsorbed(
  archive: Pick<UsageReport, 'absorbed'> | undefined,
  r: Pick<StoredReport, 'name' | 'resourceVersion'>,
): boolean {
  return r.resourceVersion !== undefined && archive?.absorbed?.[r.name] === r.resourceVersion;
}

/** The reports to sum: all of them (the archive included) except the versions the archive absorbed. */
export function countedReports<T extends StoredReport>(reports: readonly T[]): T[] {
  const archive = findArchive(reports)?.report;
  return reports.filter((r) => !isAbsorbed(archive, r));
}

/**
 * Adds one report's keys into `into` (counts summed, latest lastUsedAt; spend summed within one budget
 * window; of two different windows, the one of the later use is kept: a window id names its period, and
 * readers only count spend of the window current for the key's budget).
 */
export function addKeys(into: Record<string, KeyUsage>, keys: Record<string, KeyUsage>): void {
  for (const [id, u] of Object.entries(keys)) {
    const t = into[id];
    if (!t) {
      into[id] = { ...u, ...(u.spend ? { spend: { ...u.spend } } : {}) };
      continue;
    }
    const next: KeyUsage = {
      requests: t.requests + u.requests,
      credits: t.credits + u.credits,
      lastUsedAt: Date.parse(u.lastUsedAt) > Date.parse(t.lastUsedAt) ? u.lastUsedAt : t.lastUsedAt,
    };
    if (t.spend && u.spend && t.spend.window === u.spend.window)
      next.spend = { window: t.spend.window, credits: t.spend.credits + u.spend.credits };
    else if (t.spend || u.spend) {
      const later = Date.parse(u.lastUsedAt) > Date.parse(t.lastUsedAt) ? (u.spend ?? t.spend) : (t.spend ?? u.spend);
      next.spend = { ...later! };
    }
    into[id] = next;
  }
}

/**
 * A gateway's view of the listed reports: its own report to continue from (not when the archive absorbed
 * that version: the archive carries those counts, so it starts from zero) and the reports to add as peers.
 */
export function ownAndPeers<T extends StoredReport>(
  reports: readonly T[],
  ownName: string,
): { own: T | undefined; peers: T[] } {
  const archive = findArchive(reports)?.report;
  const mine = reports.find((r) => r.name === ownName);
  return {
    own: mine && !isAbsorbed(archive, mine) ? mine : undefined,
    peers: countedReports(reports).filter((r) => r.name !== ownName),
  };
}
