import { isCidrOrAddress } from './fields.ts';

// The text of a ConfigMap-held allowlist (spec.ipAllowlistFrom, docs/design.md §2): one CIDR block or
// address per line; blank lines and `#` comments (whole-line or trailing) are ignored. One bad line
// rejects the whole list — a partly read allowlist is a different allowlist than the one written.

/** Entries one list may hold: far above a CI provider's published ranges, far below the record limit. */
export const CIDR_LIST_MAX_ENTRIES = 20_000;

export type CidrListResult = { ok: true; cidrs: string[] } | { ok: false; error: string };

export function parseCidrList(text: string): CidrListResult {
  const cidrs: string[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    if (!isCidrOrAddress(line)) {
      const shown = line.length > 64 ? `${line.slice(0, 64)}…` : line;
      return { ok: false, error: `line ${i + 1} ("${shown}") is not a CIDR block or IP address` };
    }
    cidrs.push(line);
    if (cidrs.length > CIDR_LIST_MAX_ENTRIES) {
      return { ok: false, error: `more than ${CIDR_LIST_MAX_ENTRIES} entries (at line ${i + 1})` };
    }
  }
  return { ok: true, cidrs };
}
