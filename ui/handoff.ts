// Manual hand-off from the page (spec.rotation.handoff.mode: Manual, issue #10): revoke the Superseded
// predecessors, but only once the successor has a last-used time — the evidence that workloads moved.
// The same rule as `keys handoff` without --force; pure, so it is table-tested.
import { currentEntry, supersededIds, type ApiKeyObject } from '../cli/keys/model.ts';

export function planManualHandoff(obj: ApiKeyObject): { ids: string[] } | { refuse: string } {
  const ids = supersededIds(obj);
  const successor = currentEntry(obj);
  if (ids.length === 0) return { refuse: 'no predecessor key id is waiting for hand-off (nothing is Superseded)' };
  if (!successor?.lastUsedAt) {
    return { refuse: `the successor key ${successor?.id ?? ''} has never been used: roll it out and confirm its ` +
      'last used time before revoking the predecessors' };
  }
  return { ids };
}
