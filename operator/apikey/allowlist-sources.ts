import type { V1ConfigMap } from '@kubernetes/client-node';
import type { ApiKeySpecInput } from '../../api/apikey.ts';
import { parseCidrList, type CidrListResult } from '../../api/cidr-list.ts';
import { LABELS, MANAGED_BY } from '../../api/constants.ts';
import { listObjects, readObject } from '../../kube/apply.ts';
import { compactObject } from '../../kube/compact.ts';
import { CONFIG_MAPS, resourcePath } from '../../kube/resources.ts';
import type { OperatorContext } from '../runtime/context.ts';
import type { CachedInformer, ChangeKind, ObjectCache } from '../runtime/types.ts';
import type { ApiKeyObject, ResolvedAllowlist, TeamObject } from './types.ts';

// spec.ipAllowlistFrom (docs/design.md §2): ConfigMaps the user keeps, unlabelled. The operator watches
// ConfigMaps' METADATA only (the transform drops data, and our own audit trails and usage reports are
// excluded by selector), reads a referenced ConfigMap's data with one GET when its resourceVersion
// changed, and keeps only the parsed lists of referenced ConfigMaps. A change enqueues exactly the
// ApiKeys that reference it, and the keys of the Teams that reference it (Team.spec.ipAllowlistFrom:
// indexes below), so an edited list reaches the gateway without touching them.

type Refs = NonNullable<ApiKeySpecInput['ipAllowlistFrom']>;

/** Not ours: audit trails and usage reports are the bulk of ConfigMaps the operator would otherwise cache. */
export const ALLOWLIST_CONFIGMAP_SELECTOR = `${LABELS.managedBy}!=${MANAGED_BY},!${LABELS.usage}`;

/** Reads one ConfigMap; undefined when it does not exist. */
export type ConfigMapRead = (namespace: string, name: string) => Promise<V1ConfigMap | undefined>;

const dropData = (cm: V1ConfigMap): V1ConfigMap => compactObject({ metadata: cm.metadata }) as V1ConfigMap;

/** `ns/configmap` → the objects (`ns/name`) whose spec.ipAllowlistFrom references it, and back. */
class Referrers {
  readonly #byConfigMap = new Map<string, Set<string>>();
  readonly #refsOf = new Map<string, string[]>();

  update(key: string, namespace: string, refs: Refs | undefined): void {
    for (const cm of this.#refsOf.get(key) ?? []) {
      const set = this.#byConfigMap.get(cm);
      set?.delete(key);
      if (set?.size === 0) this.#byConfigMap.delete(cm);
    }
    const cms = (refs ?? []).map((r) => `${namespace}/${r.configMapKeyRef.name}`);
    if (cms.length === 0) this.#refsOf.delete(key);
    else this.#refsOf.set(key, cms);
    for (const cm of cms) this.#byConfigMap.set(cm, (this.#byConfigMap.get(cm) ?? new Set()).add(key));
  }

  of(cm: string): string[] {
    return [...(this.#byConfigMap.get(cm) ?? [])];
  }
}

export class AllowlistSources {
  readonly #cache: ObjectCache<V1ConfigMap>;
  readonly #read: ConfigMapRead;
  /** `ns/configmap` → its data as last read, at that resourceVersion, with the lists parsed from it. */
  readonly #fetched = new Map<
    string,
    { rv: string | undefined; data: Record<string, string>; lists: Map<string, CidrListResult> }
  >();
  readonly #apiKeys = new Referrers();
  readonly #teams = new Referrers();

  constructor(cache: ObjectCache<V1ConfigMap>, read: ConfigMapRead) {
    this.#cache = cache;
    this.#read = read;
  }

  /** All references' CIDRs, or the first reason one cannot be used (which ConfigMap, key and line). */
  async resolve(namespace: string, refs: Refs): Promise<ResolvedAllowlist> {
    const cidrs: string[] = [];
    for (const {
      configMapKeyRef: { name, key },
    } of refs) {
      const list = await this.#list(namespace, name, key);
      if (!list.ok) return list;
      cidrs.push(...list.cidrs);
    }
    return { ok: true, cidrs };
  }

  async #list(namespace: string, name: string, key: string): Promise<CidrListResult> {
    const id = `${namespace}/${name}`;
    const cachedRv = this.#cache.get(namespace, name)?.metadata?.resourceVersion;
    let entry = this.#fetched.get(id);
    if (!entry || cachedRv === undefined || entry.rv !== cachedRv) {
      // Not in the watch cache (yet) or changed since read: the API server is the judge.
      const cm = await this.#read(namespace, name);
      if (!cm) {
        this.#fetched.delete(id);
        return { ok: false, error: `ConfigMap ${name} not found in namespace ${namespace}` };
      }
      entry = { rv: cm.metadata?.resourceVersion, data: cm.data ?? {}, lists: new Map() };
      this.#fetched.set(id, entry);
    }
    let list = entry.lists.get(key);
    if (!list) {
      const text = entry.data[key];
      list = text === undefined ? { ok: false, error: `ConfigMap ${name} has no key "${key}"` } : parseCidrList(text);
      if (!list.ok && text !== undefined) list = { ok: false, error: `ConfigMap ${name} key "${key}": ${list.error}` };
      entry.lists.set(key, list);
    }
    return list;
  }

  /** Keeps the referrer index; call for every ApiKey change. */
  updateApiKey(ak: ApiKeyObject, key: string, change: ChangeKind): void {
    this.#apiKeys.update(key, ak.metadata?.namespace ?? '', change === 'delete' ? undefined : ak.spec?.ipAllowlistFrom);
  }

  /** Keeps the Team referrer index; call for every Team change. */
  updateTeam(team: TeamObject, key: string, change: ChangeKind): void {
    this.#teams.update(
      key,
      team.metadata?.namespace ?? '',
      change === 'delete' ? undefined : team.spec?.ipAllowlistFrom,
    );
  }

  /** The ApiKeys to reconcile after a ConfigMap changed; forgets its data once it is gone. */
  referrersOf(cm: V1ConfigMap, change: ChangeKind): string[] {
    const id = `${cm.metadata?.namespace}/${cm.metadata?.name}`;
    if (change === 'delete') this.#fetched.delete(id);
    return this.#apiKeys.of(id);
  }

  /** The Teams (`ns/name`) whose lists a ConfigMap change concerns: every key of theirs is reconciled. */
  teamReferrersOf(cm: V1ConfigMap): string[] {
    return this.#teams.of(`${cm.metadata?.namespace}/${cm.metadata?.name}`);
  }
}

/** The metadata-only ConfigMap informer and the GET behind AllowlistSources, for operator/controllers.ts. */
export function allowlistSources(ctx: OperatorContext): {
  sources: AllowlistSources;
  configMaps: CachedInformer<V1ConfigMap>;
} {
  const ns = ctx.watchNamespace;
  const labelSelector = ALLOWLIST_CONFIGMAP_SELECTOR;
  const configMaps = ctx.createInformer<V1ConfigMap>({
    resource: 'allowlist-configmaps',
    path: resourcePath(CONFIG_MAPS, { namespace: ns }),
    labelSelector,
    list: (page) => listObjects(ctx.kube, CONFIG_MAPS, { namespace: ns, labelSelector, ...page }),
    transform: dropData,
  });
  const read: ConfigMapRead = (namespace, name) => readObject(ctx.kube, CONFIG_MAPS, namespace, name);
  return { sources: new AllowlistSources(configMaps, read), configMaps };
}
