import type { V1ConfigMap } from '@kubernetes/client-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import { FIELD_MANAGER, LABELS, MANAGED_BY } from '../../api/constants.ts';
import { USAGE_ARCHIVE_NAME } from '../../api/usage-archive.ts';
import { decodeUsageReport, encodeUsageReport, type UsageReport } from '../../api/usage.ts';
import { apiErrorMessage, createObject, PATCH, patchObject } from '../../kube/apply.ts';
import type { KubeClient } from '../../kube/client.ts';
import { CONFIG_MAPS, resourcePath } from '../../kube/resources.ts';
import type { Logger } from '../runtime/log.ts';
import type { Clock, ObjectCache, ReconcileResult, Reconciler } from '../runtime/types.ts';
import { planFold, type ListedReport } from './fold-plan.ts';

// The leader's fold pass over the cached usage reports (plan: fold-plan.ts). One key, `fold`, requeued
// every `periodMs`; the archive write comes first (create, or a merge patch at the cached
// resourceVersion so a stale cache or a second operator loses with 409 and retries), then the
// deletes, each at the folded resourceVersion (a report that changed meanwhile is not deleted).

export const FOLD_KEY = 'fold';
/**
 * A report not rewritten for this long belongs to a gone replica. Live gateways rewrite theirs at least
 * every min(6 × report interval, 5 min) even when idle (gateway/usage/reporter.ts), so 1 h leaves a
 * live gateway more than ten missed heartbeats (an API server outage it rides out) before it could be
 * folded, while reports of rollouts pile up for an hour at most.
 */
export const DEFAULT_FOLD_AFTER_MS = 60 * 60_000;
export const DEFAULT_FOLD_PERIOD_MS = 60_000;

/** The writes of a fold pass (wrapped by tests to inject crashes). */
export interface FoldWriter {
  writeArchive(report: UsageReport, resourceVersion: string | undefined): Promise<void>;
  deleteReport(name: string, resourceVersion: string): Promise<void>;
}

export interface FoldMetrics {
  folded: Counter;
  passes: Counter<'result'>;
  reports: Gauge;
  absorbed: Gauge;
}

export function createFoldMetrics(registry: Registry): FoldMetrics {
  const registers = [registry];
  return {
    folded: new Counter({
      name: 'nemokeys_operator_usage_reports_folded_total',
      help: 'Usage reports of gone gateway replicas folded into the usage archive',
      registers,
    }),
    passes: new Counter({
      name: 'nemokeys_operator_usage_fold_passes_total',
      help: 'Fold passes over the usage reports by result (ok, error, blocked)',
      labelNames: ['result'],
      registers,
    }),
    reports: new Gauge({
      name: 'nemokeys_operator_usage_reports',
      help: 'Usage report ConfigMaps in the records namespace (the archive included)',
      registers,
    }),
    absorbed: new Gauge({
      name: 'nemokeys_operator_usage_archive_absorbed',
      help: 'Folded report versions the usage archive still records (their deletes pending or not yet seen)',
      registers,
    }),
  };
}

const status = (err: unknown): number | undefined => (err as { code?: number }).code;

export function kubeFoldWriter(kube: KubeClient, namespace: string): FoldWriter {
  return {
    async writeArchive(report, resourceVersion) {
      const payload = encodeUsageReport(report);
      try {
        if (resourceVersion) {
          // a merge patch carrying the resourceVersion read: 409 if anyone wrote in between
          await patchObject(
            kube,
            CONFIG_MAPS,
            { namespace, name: USAGE_ARCHIVE_NAME },
            { metadata: { resourceVersion }, ...payload },
            { contentType: PATCH.merge, fieldManager: FIELD_MANAGER },
          );
        } else {
          const body: V1ConfigMap = {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: USAGE_ARCHIVE_NAME,
              namespace,
              labels: { [LABELS.usage]: 'true', [LABELS.managedBy]: MANAGED_BY },
            },
            ...payload,
          };
          await createObject(kube, CONFIG_MAPS, body, { fieldManager: FIELD_MANAGER });
        }
      } catch (err) {
        throw new Error(`writing the usage archive ${namespace}/${USAGE_ARCHIVE_NAME}: ${apiErrorMessage(err)}`);
      }
    },
    async deleteReport(name, resourceVersion) {
      try {
        const body = { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } };
        await kube.request('DELETE', resourcePath(CONFIG_MAPS, { namespace, name }), { body });
      } catch (err) {
        // gone already, or rewritten since it was folded (its writer came back): leave it, never retry blindly
        if (status(err) === 404 || status(err) === 409) return;
        throw new Error(`deleting folded usage report ${namespace}/${name}: ${apiErrorMessage(err)}`);
      }
    },
  };
}

export interface FoldReconcilerOptions {
  reports: ObjectCache<V1ConfigMap>;
  namespace: string;
  writer: FoldWriter;
  clock: Clock;
  log: Logger;
  metrics: FoldMetrics;
  /** Whether a key id still has its record (key ids of deleted ApiKeys leave the archive). */
  hasRecord?: (keyId: string) => boolean;
  foldAfterMs?: number;
  periodMs?: number;
}

export function createFoldReconciler(o: FoldReconcilerOptions): Reconciler {
  const foldAfterMs = o.foldAfterMs ?? DEFAULT_FOLD_AFTER_MS;
  const periodMs = o.periodMs ?? DEFAULT_FOLD_PERIOD_MS;
  // decoded reports by name, re-decoded only when their resourceVersion changed (gunzip of every report
  // every pass would cost more than the pass)
  const decoded = new Map<string, ListedReport>();
  return {
    name: 'usage-fold',
    async reconcile(): Promise<ReconcileResult> {
      const listed: ListedReport[] = o.reports.list(o.namespace).map((cm) => {
        const name = cm.metadata?.name ?? '';
        const hit = decoded.get(name);
        if (hit && hit.resourceVersion === cm.metadata?.resourceVersion) return hit;
        const d = decodeUsageReport(cm);
        const r = { name, resourceVersion: cm.metadata?.resourceVersion, report: d.ok ? d.report : undefined };
        decoded.set(name, r);
        return r;
      });
      const names = new Set(listed.map((r) => r.name));
      for (const name of decoded.keys()) if (!names.has(name)) decoded.delete(name);
      const archive = listed.find((r) => r.name === USAGE_ARCHIVE_NAME);
      const archiveRv = archive?.resourceVersion;
      const plan = planFold(listed, o.clock.now(), foldAfterMs, o.hasRecord);
      o.metrics.reports.set(listed.length);
      o.metrics.absorbed.set(Object.keys(archive?.report?.absorbed ?? {}).length);
      if (plan.blocked) {
        o.metrics.passes.inc({ result: 'blocked' });
        o.log.error({ archive: `${o.namespace}/${USAGE_ARCHIVE_NAME}` }, plan.blocked);
        return { requeueAfterMs: periodMs };
      }
      try {
        if (plan.archive) {
          await o.writer.writeArchive(plan.archive, archiveRv);
        }
        for (const d of plan.deletes) await o.writer.deleteReport(d.name, d.resourceVersion);
      } catch (err) {
        o.metrics.passes.inc({ result: 'error' });
        throw err;
      }
      o.metrics.passes.inc({ result: 'ok' });
      if (plan.folded.length > 0) {
        o.metrics.folded.inc(plan.folded.length);
        o.log.info(
          { folded: plan.folded, archive: `${o.namespace}/${USAGE_ARCHIVE_NAME}` },
          'folded usage reports of gone gateway replicas into the archive',
        );
      }
      return { requeueAfterMs: periodMs };
    },
  };
}
