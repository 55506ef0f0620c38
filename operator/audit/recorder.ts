// Turns audited changes (from the API server) and the operator's own actions into trail entries and
// JSON audit-stream lines (docs/design.md §8). Entries are idempotent by id: the audit ID for changes
// people made, `operator:<action>:<key id>` for the operator's own (each happens once per key id).
import pino, { type DestinationStream } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { GROUP, KINDS, VERSION } from '../../api/constants.ts';
import { readObject } from '../../kube/apply.ts';
import type { KubeClient } from '../../kube/client.ts';
import { apiErrorMessage } from '../../kube/errors.ts';
import type { AuditRecord, Logger } from '../runtime/log.ts';
import { scrubKeys } from '../runtime/log.ts';
import { classifiedFromAnnotations } from './admission.ts';
import { classify, snapshotHash, snapshotOf } from './changes.ts';
import type { AuditedChange } from './event.ts';
import type { Baseline, TrailStore, TrailRef } from './trail-store.ts';
import { fillIssuedKeyId, issuedKeyFrom, keyIssuedFor, type TrailEntry } from './trail.ts';

interface KubeObject {
  metadata?: { uid?: string; annotations?: Record<string, string>; deletionTimestamp?: unknown };
  spec?: unknown;
  status?: { currentKeyId?: string; keys?: { id: string; createdAt: string }[] };
}

export interface RecorderDeps {
  kube: KubeClient;
  store: TrailStore;
  log: Logger;
  registry: Registry;
  /** The operator's own Kubernetes user: its requests are recorded from its own actions, with reasons. */
  operatorUser?: string;
  /** Name the operator's own entries carry as actor. */
  operatorActor: string;
  /** The audit stream (stdout by default). */
  destination?: DestinationStream;
}

export interface Recorder {
  /** Records changes in order (one object's changes are compared in sequence). Throws if any failed. */
  recordChanges(changes: AuditedChange[]): Promise<number>;
  /** The operator's own action (expiry, automatic rotation, hand-off, …); persisted with retries. */
  recordOperatorAction(record: AuditRecord, actor?: string): Promise<void>;
  /** A person's create / rotate got its key from the operator: name that key id in their entry. */
  recordIssuedKey(record: AuditRecord): Promise<void>;
  /** Writes an entry someone else put in the trail to the audit stream. */
  emit(ref: Omit<TrailRef, 'uid'>, e: TrailEntry): void;
}

/** The entry for changes made between two recorded ones that no audit event reported. */
function unauditedBefore(c: AuditedChange, existed: boolean): TrailEntry {
  return {
    id: `unaudited:${c.auditId}`,
    time: new Date(Date.parse(c.time) - 1).toISOString(),
    action: existed ? 'edit' : 'create',
    actor: 'unknown',
    reason: "changed while no audit event reached the operator (see kube-apiserver's audit log)",
  };
}

export function createRecorder(deps: RecorderDeps): Recorder {
  const stream = pino(
    {
      name: 'nemokeys-operator',
      base: { stream: 'audit' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    deps.destination,
  );
  const entriesTotal = new Counter({
    name: 'nemokeys_audit_trail_entries_total',
    help: 'Audit trail entries written, by source (apiserver = audit events, operator = its own actions)',
    labelNames: ['source'],
    registers: [deps.registry],
  });
  const failures = new Counter({
    name: 'nemokeys_audit_trail_write_failures_total',
    help: 'Failed attempts to write an audit trail entry (the API server re-sends its batch; operator actions retry)',
    registers: [deps.registry],
  });

  const fetch = async (kind: TrailRef['kind'], namespace: string, name: string): Promise<KubeObject | undefined> => {
    const plural = kind === 'ApiKey' ? KINDS.apiKey.plural : KINDS.team.plural;
    return readObject<KubeObject>(
      deps.kube,
      { group: GROUP, version: VERSION, plural, namespaced: true },
      namespace,
      name,
    );
  };
  const emit = (ref: Omit<TrailRef, 'uid'>, e: TrailEntry) => {
    stream.info(
      scrubKeys({ ...e, kind: ref.kind, object: `${ref.namespace}/${ref.name}` }) as object,
      `${ref.kind} ${e.action}`,
    );
  };

  const recordChange = async (c: AuditedChange): Promise<void> => {
    const current = await fetch(c.kind, c.namespace, c.name);
    const after = snapshotOf(current);
    const uid = c.uid ?? current?.metadata?.uid;
    const ref: TrailRef = { kind: c.kind, namespace: c.namespace, name: c.name, ...(uid ? { uid } : {}) };
    const { added } = await deps.store.update(ref, (state) => {
      // A re-sent event (already in the trail) changes nothing: not the entries, not the baseline.
      if (state.entries.some((e) => e.id === c.auditId)) return { add: [] };
      // The admission webhook's annotations say what this very request changed; without them (webhook
      // down or not installed) compare with the baseline — exact unless several changes came in one batch.
      const annotated = classifiedFromAnnotations(c.annotations);
      const what = annotated ?? classify(c.verb, state.baseline?.snapshot, after);
      // A create / rotate names the key the operator issued for it (a rotate also its predecessor), once
      // issued; an event that arrives first leaves it for recordIssuedKey (not the current key: a late
      // event would name a later key).
      const issuing = what.action === 'create' || what.action === 'rotate';
      const keyId = what.revokedKeyId ?? annotated?.keyId ?? (issuing ? undefined : current?.status?.currentKeyId);
      const issued = issuing ? keyIssuedFor(current?.status?.keys, c.time, keyId) : undefined;
      const keyIds =
        issued && what.action === 'rotate' && keyId
          ? { keyId: issued, predecessorKeyId: keyId }
          : issued && what.action === 'create'
            ? { keyId: issued }
            : keyId
              ? { keyId }
              : {};
      const entry: TrailEntry = {
        id: c.auditId,
        time: c.time,
        action: what.action,
        actor: c.actor.username,
        ...(c.actor.groups.length ? { groups: c.actor.groups } : {}),
        ...(c.actor.impersonatedBy ? { impersonatedBy: c.actor.impersonatedBy } : {}),
        ...keyIds,
        ...(c.sourceIp ? { sourceIp: c.sourceIp } : {}),
        ...(what.fields.length ? { fields: what.fields } : {}),
      };
      const afterHash = snapshotHash(after);
      const baseline: Baseline = annotated?.after
        ? { hash: annotated.after, ...(after && afterHash === annotated.after ? { snapshot: after } : {}) }
        : { hash: afterHash, ...(after ? { snapshot: after } : {}) };
      if (!annotated?.before || !annotated.after) return { add: [entry], baseline };
      // This change was already recorded as observed (its audit event came after the grace period):
      // the audit event's entry takes the observed one's place — one entry per change.
      const observed = state.entries.findLast((e) => e.id.startsWith('observed:') && e.resultHash === annotated.after);
      if (observed) return { add: [entry], remove: [observed.id], baseline: state.baseline ?? baseline };
      // The object changed between the last recorded change and this one without an audit event
      // reaching us (operator down, event dropped): say so rather than leave a silent gap.
      // (`after === known`: the baseline was taken from the object after this change already happened.)
      const known = state.baseline?.hash ?? snapshotHash(undefined);
      if (annotated.before === known || annotated.after === known) return { add: [entry], baseline };
      return { add: [unauditedBefore(c, state.baseline !== undefined), entry], baseline };
    });
    for (const e of added) emit(ref, e);
    entriesTotal.inc({ source: 'apiserver' }, added.length);
  };

  return {
    emit,
    async recordChanges(changes) {
      const mine = changes.filter((c) => !deps.operatorUser || c.actor.username !== deps.operatorUser);
      const byObject = new Map<string, AuditedChange[]>();
      for (const c of mine) {
        const k = `${c.kind}/${c.namespace}/${c.name}`;
        byObject.set(k, [...(byObject.get(k) ?? []), c]);
      }
      const results = await Promise.allSettled(
        [...byObject.values()].map(async (list) => {
          for (const c of list) await recordChange(c);
        }),
      );
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length) {
        failures.inc(failed.length);
        throw new Error(`audit trail: ${failed.length} object(s) not recorded: ${apiErrorMessage(failed[0]!.reason)}`);
      }
      return mine.length;
    },

    async recordIssuedKey(r) {
      const issued = issuedKeyFrom(r);
      if (!issued) return;
      const [namespace, name] = r.apiKey.split('/') as [string, string];
      try {
        const uid = r.uid ?? (await fetch('ApiKey', namespace, name))?.metadata?.uid;
        await deps.store.update({ kind: 'ApiKey', namespace, name, ...(uid ? { uid } : {}) }, (state) => {
          const filled = fillIssuedKeyId(state.entries, issued);
          return filled ? { add: [filled], remove: [filled.id] } : { add: [] };
        });
      } catch (err) {
        failures.inc();
        deps.log.warn(
          { apiKey: r.apiKey, keyId: r.keyId, error: apiErrorMessage(err) },
          'audit trail: issued key id not filled in',
        );
      }
    },

    async recordOperatorAction(r, actor) {
      const [namespace, name] = r.apiKey.split('/') as [string, string];
      const entry: TrailEntry = {
        id: `operator:${r.action}:${r.keyId}`,
        time: new Date().toISOString(),
        action: r.action,
        keyId: r.keyId,
        actor: actor ?? deps.operatorActor,
        ...(r.reason ? { reason: r.reason.slice(0, 512) } : {}),
      };
      for (let attempt = 0; ; attempt++) {
        try {
          const uid = r.uid ?? (await fetch('ApiKey', namespace, name))?.metadata?.uid;
          const ref: TrailRef = { kind: 'ApiKey', namespace, name, ...(uid ? { uid } : {}) };
          const { added } = await deps.store.update(ref, () => ({ add: [entry] }));
          for (const e of added) emit(ref, e);
          entriesTotal.inc({ source: 'operator' }, added.length);
          return;
        } catch (err) {
          failures.inc();
          if (attempt >= 5) {
            deps.log.error(
              { apiKey: r.apiKey, action: r.action, error: apiErrorMessage(err) },
              'audit trail entry not written',
            );
            return;
          }
          await new Promise((res) => setTimeout(res, 200 * 2 ** attempt));
        }
      }
    },
  };
}
