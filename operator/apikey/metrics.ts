import { Counter, Gauge, type Registry } from 'prom-client';
import { KEY_STATES, type ApiKeyStatus, type KeyState } from '../../api/apikey.ts';
import type { ReminderKind } from '../keys/expiry.ts';

// Controller metrics (contract with dashboards / alert rules). Gauges are computed at scrape time from
// the last status each reconcile produced, so a deleted ApiKey disappears from them at once.

export interface ApiKeyMetrics {
  observe(apiKeyRef: string, team: string, status: ApiKeyStatus | undefined): void;
  forget(apiKeyRef: string): void;
  reminder(kind: ReminderKind): void;
}

export function createApiKeyMetrics(registry: Registry): ApiKeyMetrics {
  /** Per ApiKey, the states of its key ids: all the state gauge reads. */
  const statesOf = new Map<string, KeyState[]>();
  const registers = [registry];
  new Gauge({
    name: 'nemokeys_operator_keys',
    help: 'Key ids by state (Active, Superseded, Revoked, Expired) over all ApiKeys',
    labelNames: ['state'],
    registers,
    collect() {
      const counts = Object.fromEntries(KEY_STATES.map((s) => [s, 0])) as Record<string, number>;
      for (const states of statesOf.values()) for (const state of states) counts[state] = (counts[state] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  // Kept up to date as statuses come in, not rebuilt per scrape: at 10 000 keys a rebuild (reset, then a
  // label hash per series) made every scrape ~40 ms and tens of MB of garbage that the small young
  // generation of a memory-limited Pod promoted to the old one (docs/design.md §7.1).
  const expiry = new Gauge({
    name: 'nemokeys_apikey_expiry_timestamp_seconds',
    help: 'Expiry (unix seconds) of each usable key id that has one, and of an expired current key id until it is replaced',
    labelNames: ['namespace', 'apikey', 'team', 'key_id'],
    registers,
  });
  type ExpiryLabels = { namespace: string; apikey: string; team: string; key_id: string };
  const exportedSeries = new Map<string, { labels: ExpiryLabels; value: number }[]>();
  const exportExpiry = (ref: string, team: string, status: ApiKeyStatus | undefined) => {
    const [namespace = '', apikey = ''] = ref.split('/');
    const want: { labels: ExpiryLabels; value: number }[] = [];
    for (const k of status?.keys ?? []) {
      // An expired CURRENT key stays exported (NemokeysApiKeyExpired fires on <= 0) until a replacement is current.
      const exported =
        k.state === 'Active' || k.state === 'Superseded' || (k.state === 'Expired' && k.id === status?.currentKeyId);
      if (!k.expiresAt || !exported) continue;
      want.push({
        labels: { namespace, apikey, team, key_id: k.id },
        value: Math.floor(Date.parse(k.expiresAt) / 1000),
      });
    }
    const had = exportedSeries.get(ref) ?? [];
    const same = (a: ExpiryLabels, b: ExpiryLabels) => a.key_id === b.key_id && a.team === b.team;
    for (const old of had) if (!want.some((w) => same(w.labels, old.labels))) expiry.remove(old.labels);
    for (const w of want) {
      if (!had.some((old) => same(old.labels, w.labels) && old.value === w.value)) expiry.set(w.labels, w.value);
    }
    if (want.length > 0) exportedSeries.set(ref, want);
    else exportedSeries.delete(ref);
  };
  const reminders = new Counter({
    name: 'nemokeys_operator_reminders_total',
    help: 'Expiry reminder Events sent, by kind (7d, 1d, expired)',
    labelNames: ['kind'],
    registers,
  });
  for (const kind of ['7d', '1d', 'expired']) reminders.inc({ kind }, 0);
  return {
    // Only what the gauges read: a full status per key would duplicate the informer cache at 10 000 keys.
    observe: (ref, team, status) => {
      exportExpiry(ref, team, status);
      if (status)
        statesOf.set(
          ref,
          (status.keys ?? []).map((k) => k.state),
        );
      else statesOf.delete(ref);
    },
    forget: (ref) => {
      exportExpiry(ref, '', undefined);
      statesOf.delete(ref);
    },
    reminder: (kind) => reminders.inc({ kind }),
  };
}
