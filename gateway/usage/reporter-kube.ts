import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { GATEWAY_FIELD_MANAGER, LABELS, MANAGED_BY, USAGE_DATA_KEY } from '../../api/constants.ts';
import { UsageReportSchema, type UsageReport } from '../../api/usage.ts';
import { apiErrorMessage, applyObject, readIfExists } from '../../kube/apply.ts';
import { silentLogger, type SourceLogger } from '../sources/log.ts';
import type { UsageReportStore } from './reporter.ts';

// A replica's usage report as ONE ConfigMap `nemokeys-usage-<gatewayId>` in the records namespace,
// written with server-side apply under the gateway's field manager. Each replica owns its own object,
// so replicas never conflict; the same identity after a restart takes its object over (force).
// Two live replicas must not share a gateway id: they would overwrite each other's counts.

export const USAGE_CONFIGMAP_PREFIX = 'nemokeys-usage-';

/** ConfigMap names are DNS subdomains; a hostname or pod name already is one, anything else is folded. */
export function usageConfigMapName(gatewayId: string): string {
  const safe = gatewayId.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `${USAGE_CONFIGMAP_PREFIX}${safe || 'gateway'}`.slice(0, 253).replace(/[^a-z0-9]+$/, '');
}

export function usageConfigMap(report: UsageReport, namespace: string): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: usageConfigMapName(report.gateway),
      namespace,
      labels: { [LABELS.usage]: 'true', [LABELS.managedBy]: MANAGED_BY },
    },
    data: { [USAGE_DATA_KEY]: JSON.stringify(report) },
  };
}

export function kubeUsageReportStore(opts: { kc: KubeConfig; namespace: string; gatewayId: string; logger?: SourceLogger }): UsageReportStore {
  const { kc, namespace, gatewayId, logger = silentLogger } = opts;
  const name = usageConfigMapName(gatewayId);
  return {
    async read() {
      let cm: V1ConfigMap | undefined;
      try {
        cm = await readIfExists<V1ConfigMap>(kc, { apiVersion: 'v1', kind: 'ConfigMap', name, namespace });
      } catch (err) {
        throw new Error(`reading ConfigMap ${namespace}/${name}: ${apiErrorMessage(err)}`);
      }
      const text = cm?.data?.[USAGE_DATA_KEY];
      if (text === undefined) return undefined;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const parsed = UsageReportSchema.safeParse(json);
      if (!parsed.success) {
        // Unreadable counts cannot be continued; start from zero rather than never reporting again.
        logger.warn({ configMap: `${namespace}/${name}` }, 'previous usage report is not valid; starting this gateway\'s counts from zero');
        return undefined;
      }
      return parsed.data;
    },
    async write(report) {
      try {
        await applyObject(kc, usageConfigMap(report, namespace), { fieldManager: GATEWAY_FIELD_MANAGER, force: true });
      } catch (err) {
        throw new Error(`writing ConfigMap ${namespace}/${name}: ${apiErrorMessage(err)}`);
      }
    },
  };
}
