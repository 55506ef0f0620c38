import type { V1ConfigMap } from '@kubernetes/client-node';
import { GATEWAY_FIELD_MANAGER, LABELS, MANAGED_BY } from '../../api/constants.ts';
import { decodeUsageReport, encodeUsageReport, type UsageReport } from '../../api/usage.ts';
import { ownAndPeers, type StoredReport } from '../../api/usage-archive.ts';
import { apiErrorMessage, applyObject, listObjects } from '../../kube/apply.ts';
import type { KubeClient } from '../../kube/client.ts';
import { CONFIG_MAPS } from '../../kube/resources.ts';
import { silentLogger, type SourceLogger } from '../sources/log.ts';
import type { UsageReportStore } from './reporter.ts';

// A replica's usage report as ONE ConfigMap `nemokeys-usage-<gatewayId>` in the records namespace,
// written with server-side apply under the gateway's field manager. Each replica owns its own object,
// so replicas never conflict; the same identity after a restart takes its object over (force).
// Every replica also lists all reports (one LIST per interval) for the others' budget spend. Two live
// replicas must not share a gateway id: they would overwrite each other's counts (the reporter says so).

export const USAGE_CONFIGMAP_PREFIX = 'nemokeys-usage-';

/** ConfigMap names are DNS subdomains; a hostname or pod name already is one, anything else is folded. */
export function usageConfigMapName(gatewayId: string): string {
  const safe = gatewayId
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
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
    ...encodeUsageReport(report),
  };
}

export function kubeUsageReportStore(opts: {
  kube: KubeClient;
  namespace: string;
  gatewayId: string;
  logger?: SourceLogger;
}): UsageReportStore {
  const { kube, namespace, gatewayId, logger = silentLogger } = opts;
  const name = usageConfigMapName(gatewayId);
  let listed = false;
  return {
    async list() {
      let items: V1ConfigMap[];
      try {
        // The first read (seeding this identity's counts) is a consistent read; the per-interval refresh of
        // the peers' spend may be served from the API server's watch cache (resourceVersion 0): no etcd read.
        const cache = listed ? { resourceVersion: '0' } : {};
        const labelSelector = `${LABELS.usage}=true`;
        items = (await listObjects<V1ConfigMap>(kube, CONFIG_MAPS, { namespace, labelSelector, ...cache })).items;
        listed = true;
      } catch (err) {
        throw new Error(`listing usage ConfigMaps in ${namespace}: ${apiErrorMessage(err)}`);
      }
      const stored: StoredReport[] = [];
      for (const cm of items) {
        const decoded = decodeUsageReport(cm);
        const self = cm.metadata?.name === name;
        if (!decoded.ok) {
          // Unreadable counts cannot be continued (own) or added (peer); say so rather than stop reporting.
          logger.warn(
            { configMap: `${namespace}/${cm.metadata?.name}`, err: decoded.error },
            self
              ? "previous usage report is not valid; starting this gateway's counts from zero"
              : 'ignoring a usage report that is not valid',
          );
        } else {
          stored.push({
            name: cm.metadata?.name ?? '',
            resourceVersion: cm.metadata?.resourceVersion,
            report: decoded.report,
          });
        }
      }
      // Versions the operator's archive absorbed count there (api/usage-archive.ts): not as a peer, and
      // not as our own to continue from — the archive already carries those counts, so we start from zero.
      const split = ownAndPeers(stored, name);
      return { own: split.own?.report, peers: split.peers.map((r) => r.report) };
    },
    async write(report) {
      try {
        await applyObject(kube, usageConfigMap(report, namespace), {
          fieldManager: GATEWAY_FIELD_MANAGER,
          force: true,
        });
      } catch (err) {
        throw new Error(`writing ConfigMap ${namespace}/${name}: ${apiErrorMessage(err)}`);
      }
    },
  };
}
