// REST paths of the resources nemokeys reads and writes. The kinds we use are in a table (no discovery
// round trip before the first write); any other kind (e.g. a workload named in spec.rotation.restart)
// is looked up once per group/version with API discovery, like client-go's RESTMapper.
import { GROUP, KINDS, VERSION } from '../api/constants.ts';
import type { KubeClient } from './client.ts';

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', namespaced: true };
export const CONFIG_MAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', namespaced: true };
export const EVENTS: ResourceType = { group: '', version: 'v1', plural: 'events', namespaced: true };
export const LEASES: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  namespaced: true,
};

const KNOWN: Record<string, ResourceType> = {
  'v1/Secret': SECRETS,
  'v1/ConfigMap': CONFIG_MAPS,
  'v1/Event': EVENTS,
  'coordination.k8s.io/v1/Lease': LEASES,
  'apps/v1/Deployment': { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  'apps/v1/StatefulSet': { group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true },
  'apps/v1/DaemonSet': { group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true },
};
for (const { kind, plural } of Object.values(KINDS)) {
  KNOWN[`${GROUP}/${VERSION}/${kind}`] = { group: GROUP, version: VERSION, plural, namespaced: true };
}

/** `group/version` (or `v1`) → its collection path prefix. */
export function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** Collection (no name) or object path; namespace is ignored for cluster-scoped resources. */
export function resourcePath(
  t: ResourceType,
  where: { namespace?: string; name?: string; subresource?: string } = {},
): string {
  const gv = groupVersionPath(t.group ? `${t.group}/${t.version}` : t.version);
  const ns = t.namespaced && where.namespace ? `/namespaces/${encodeURIComponent(where.namespace)}` : '';
  const name = where.name ? `/${encodeURIComponent(where.name)}` : '';
  const sub = where.name && where.subresource ? `/${where.subresource}` : '';
  return `${gv}${ns}/${t.plural}${name}${sub}`;
}

type Discovered = Map<string, ResourceType>;
const discovery = new WeakMap<KubeClient, Map<string, Promise<Discovered>>>();

async function discover(kube: KubeClient, apiVersion: string): Promise<Discovered> {
  const list = await kube.request<{ resources?: Array<{ name: string; kind: string; namespaced: boolean }> }>(
    'GET',
    groupVersionPath(apiVersion),
  );
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
  const out: Discovered = new Map();
  for (const r of list.resources ?? []) {
    if (r.name.includes('/')) continue; // subresources
    out.set(r.kind, { group: group!, version: version!, plural: r.name, namespaced: r.namespaced });
  }
  return out;
}

/** The resource type of `apiVersion` + `kind`: from the table, else API discovery (cached per client). */
export async function resourceTypeOf(kube: KubeClient, apiVersion: string, kind: string): Promise<ResourceType> {
  const known = KNOWN[`${apiVersion}/${kind}`];
  if (known) return known;
  let perClient = discovery.get(kube);
  if (!perClient) {
    perClient = new Map();
    discovery.set(kube, perClient);
  }
  let pending = perClient.get(apiVersion);
  if (!pending) {
    pending = discover(kube, apiVersion);
    perClient.set(apiVersion, pending);
    pending.catch(() => perClient.delete(apiVersion)); // a failed discovery is retried next time
  }
  const type = (await pending).get(kind);
  if (!type) throw new Error(`the API server has no kind ${kind} in ${apiVersion}`);
  return type;
}
